"""`swap`: swap usage and cumulative swap-in/out counters."""

from __future__ import annotations

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import COUNTER, GAUGE, Field, Measurement, Prom

# psutil (like gopsutil) reports /proc/vmstat's pswpin/pswpout pages times 4096, whatever
# the page size; node_exporter serves the page counts.
_PAGE = 4096.0


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
        Field(
            "in", int, COUNTER, "bytes", "swapped in since boot",
            prom=Prom(
                "node_vmstat_pswpin", "/proc/vmstat information field pswpin.", "untyped",
                scale=1 / _PAGE,
            ),
        ),
        Field(
            "out", int, COUNTER, "bytes", "swapped out since boot",
            prom=Prom(
                "node_vmstat_pswpout", "/proc/vmstat information field pswpout.", "untyped",
                scale=1 / _PAGE,
            ),
        ),
    ),
    source="telegraf inputs.swap",
)  # fmt: skip


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
