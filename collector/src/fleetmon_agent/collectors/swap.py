"""`swap`: swap usage and cumulative swap-in/out counters."""

from __future__ import annotations

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import COUNTER, GAUGE, Field, Measurement


class SwapOptions(CollectorOptions):
    """`collectors.swap`."""

    interval = every(5.0)


MEASUREMENT = Measurement(
    "swap",
    "Swap space",
    (),
    (
        Field("total", int, GAUGE, "bytes", "swap space"),
        Field("used", int, GAUGE, "bytes", "swap space in use"),
        Field("free", int, GAUGE, "bytes", "swap space not in use"),
        Field("used_percent", float, GAUGE, "percent", "used / total"),
        Field("in", int, COUNTER, "bytes", "swapped in since boot"),
        Field("out", int, COUNTER, "bytes", "swapped out since boot"),
    ),
    source="telegraf inputs.swap",
)


class SwapCollector:
    """Telegraf's `swap` measurement."""

    def __init__(self, ctx: Context, options: SwapOptions) -> None:
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


def create(ctx: Context, options: SwapOptions) -> SwapCollector:
    """Build the collector."""
    return SwapCollector(ctx, options)


SPEC = CollectorSpec("swap", "swap space", SwapOptions, create, (MEASUREMENT,))
