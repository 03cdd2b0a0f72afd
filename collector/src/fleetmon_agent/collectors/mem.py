"""`mem`: virtual memory, Telegraf field names."""

from __future__ import annotations

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import GAUGE, Field, Measurement

_OPTIONAL = ("buffers", "cached", "active", "inactive", "shared", "slab", "wired")


class MemOptions(CollectorOptions):
    """`collectors.mem`."""

    interval = every(5.0)


def _bytes(name: str, help: str) -> Field:
    return Field(name, int, GAUGE, "bytes", help)


MEASUREMENT = Measurement(
    "mem",
    "Physical memory",
    (),
    (
        _bytes("total", "physical memory"),
        _bytes("available", "memory available for new work without swapping"),
        _bytes("used", "memory in use"),
        _bytes("free", "memory not used at all"),
        Field("used_percent", float, GAUGE, "percent", "used / total"),
        Field("available_percent", float, GAUGE, "percent", "available / total"),
        _bytes("buffers", "block device buffers"),
        _bytes("cached", "page cache"),
        _bytes("active", "recently used memory"),
        _bytes("inactive", "memory not recently used"),
        _bytes("shared", "shared memory (tmpfs included)"),
        _bytes("slab", "kernel data structures"),
        _bytes("wired", "memory that cannot be paged out (BSD, macOS)"),
    ),
    source="telegraf inputs.mem",
)


class MemCollector:
    """Telegraf's `mem` measurement."""

    def __init__(self, ctx: Context, options: MemOptions) -> None:
        self.ctx = ctx

    def collect(self, now: float) -> list[Point]:
        """One `mem` point."""
        vm = self.ctx.ps().virtual_memory()
        total = int(vm.total)
        fields: dict[str, FieldValue] = {
            "total": total,
            "available": int(vm.available),
            "used": int(vm.used),
            "free": int(vm.free),
            "used_percent": round(100.0 * vm.used / total, 3) if total else 0.0,
            "available_percent": round(100.0 * vm.available / total, 3) if total else 0.0,
        }
        for name in _OPTIONAL:
            if hasattr(vm, name):
                fields[name] = int(getattr(vm, name))
        return [Point("mem", now, {}, fields)]


def create(ctx: Context, options: MemOptions) -> MemCollector:
    """Build the collector."""
    return MemCollector(ctx, options)


SPEC = CollectorSpec("mem", "physical memory", MemOptions, create, (MEASUREMENT,))
