"""`net`: cumulative traffic counters per interface (loopback left out by default)."""

from __future__ import annotations

import fnmatch

from fleetmon_agent.collectors.base import Context, Options
from fleetmon_agent.points import Point

_FIELDS = (
    ("bytes_sent", "bytes_sent"),
    ("bytes_recv", "bytes_recv"),
    ("packets_sent", "packets_sent"),
    ("packets_recv", "packets_recv"),
    ("errin", "err_in"),
    ("errout", "err_out"),
    ("dropin", "drop_in"),
    ("dropout", "drop_out"),
)


class NetCollector:
    """Telegraf's `net` measurement."""

    def __init__(self, ctx: Context, options: Options) -> None:
        self.ctx = ctx
        self.interfaces: list[str] = list(options.get("interfaces", []))
        self.ignore: list[str] = list(options.get("ignore_interfaces", ["lo"]))

    def _wanted(self, name: str) -> bool:
        if self.interfaces:
            return any(fnmatch.fnmatchcase(name, p) for p in self.interfaces)
        return not any(fnmatch.fnmatchcase(name, p) for p in self.ignore)

    def collect(self, now: float) -> list[Point]:
        """One point per interface."""
        counters = self.ctx.ps().net_io_counters(pernic=True) or {}
        return [
            Point(
                "net",
                now,
                {"interface": name},
                {out: int(getattr(c, src)) for src, out in _FIELDS},
            )
            for name, c in sorted(counters.items())
            if self._wanted(name)
        ]


def create(ctx: Context, options: Options) -> NetCollector:
    """Build the collector."""
    return NetCollector(ctx, options)
