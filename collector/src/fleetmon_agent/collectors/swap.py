"""`swap`: swap usage and cumulative page-in/out counters."""

from __future__ import annotations

from fleetmon_agent.collectors.base import Context, Options
from fleetmon_agent.points import FieldValue, Point


class SwapCollector:
    """Telegraf's `swap` measurement."""

    def __init__(self, ctx: Context, options: Options) -> None:
        self.ctx = ctx

    def collect(self, now: float) -> list[Point]:
        """One `swap` point."""
        sw = self.ctx.ps().swap_memory()
        fields: dict[str, FieldValue] = {
            "total": int(sw.total),
            "used": int(sw.used),
            "free": int(sw.free),
            "used_percent": round(float(sw.percent), 3),
            "in": int(sw.sin),
            "out": int(sw.sout),
        }
        return [Point("swap", now, {}, fields)]


def create(ctx: Context, options: Options) -> SwapCollector:
    """Build the collector."""
    return SwapCollector(ctx, options)
