"""`diskio`: cumulative I/O counters per block device."""

from __future__ import annotations

import fnmatch

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.options import Option, TextList
from fleetmon_agent.points import Point
from fleetmon_agent.schema import COUNTER, Field, Measurement, Tag

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


class DiskioOptions(CollectorOptions):
    """`collectors.diskio`."""

    interval = every(5.0)
    devices = Option([], TextList(), "glob patterns; empty: all but ignore_devices")
    ignore_devices = Option(DEFAULT_IGNORE_DEVICES, TextList(), "glob patterns left out")


MEASUREMENT = Measurement(
    "diskio",
    "Block device I/O counters",
    (Tag("name", "device name (sda, nvme0n1, ...)"),),
    (
        Field("reads", int, COUNTER, "operations", "reads completed"),
        Field("writes", int, COUNTER, "operations", "writes completed"),
        Field("read_bytes", int, COUNTER, "bytes", "bytes read"),
        Field("write_bytes", int, COUNTER, "bytes", "bytes written"),
        Field("read_time", int, COUNTER, "milliseconds", "time spent reading"),
        Field("write_time", int, COUNTER, "milliseconds", "time spent writing"),
        Field("io_time", int, COUNTER, "milliseconds", "time with I/O in flight"),
        Field("read_merged", int, COUNTER, "operations", "adjacent reads merged"),
        Field("write_merged", int, COUNTER, "operations", "adjacent writes merged"),
    ),
    source="telegraf inputs.diskio",
)


class DiskioCollector:
    """Telegraf's `diskio` measurement; counters stay counters."""

    def __init__(self, ctx: Context, options: DiskioOptions) -> None:
        self.ctx = ctx
        self.devices: list[str] = list(options.devices)
        self.ignore: list[str] = list(options.ignore_devices)

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


def create(ctx: Context, options: DiskioOptions) -> DiskioCollector:
    """Build the collector."""
    return DiskioCollector(ctx, options)


SPEC = CollectorSpec("diskio", "block device I/O", DiskioOptions, create, (MEASUREMENT,))
