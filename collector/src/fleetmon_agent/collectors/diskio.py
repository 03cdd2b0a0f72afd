"""`diskio`: cumulative I/O counters per block device."""

from __future__ import annotations

import fnmatch

from fleetmon_agent.collectors.base import Context, Options
from fleetmon_agent.points import Point

DEFAULT_IGNORE_DEVICES = ["loop*", "ram*"]
_FIELDS = (
    ("read_count", "reads"),
    ("write_count", "writes"),
    ("read_bytes", "read_bytes"),
    ("write_bytes", "write_bytes"),
    ("read_time", "read_time"),
    ("write_time", "write_time"),
    ("busy_time", "io_time"),
    ("read_merged_count", "read_merged"),
    ("write_merged_count", "write_merged"),
)


class DiskioCollector:
    """Telegraf's `diskio` measurement; counters stay counters."""

    def __init__(self, ctx: Context, options: Options) -> None:
        self.ctx = ctx
        self.devices: list[str] = list(options.get("devices", []))
        self.ignore: list[str] = list(options.get("ignore_devices", DEFAULT_IGNORE_DEVICES))

    def _wanted(self, name: str) -> bool:
        if self.devices:
            return any(fnmatch.fnmatchcase(name, p) for p in self.devices)
        return not any(fnmatch.fnmatchcase(name, p) for p in self.ignore)

    def collect(self, now: float) -> list[Point]:
        """One point per device."""
        counters = self.ctx.ps().disk_io_counters(perdisk=True) or {}
        points: list[Point] = []
        for name, c in sorted(counters.items()):
            if not self._wanted(name):
                continue
            fields = {out: int(getattr(c, src)) for src, out in _FIELDS if hasattr(c, src)}
            points.append(Point("diskio", now, {"name": name}, dict(fields)))
        return points


def create(ctx: Context, options: Options) -> DiskioCollector:
    """Build the collector."""
    return DiskioCollector(ctx, options)
