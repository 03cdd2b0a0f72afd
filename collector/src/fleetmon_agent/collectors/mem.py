"""`mem`: virtual memory, Telegraf field names."""

from __future__ import annotations

from fleetmon_agent.collectors.base import Context, Options
from fleetmon_agent.points import FieldValue, Point

_OPTIONAL = ("buffers", "cached", "active", "inactive", "shared", "slab", "wired")


class MemCollector:
    """Telegraf's `mem` measurement."""

    def __init__(self, ctx: Context, options: Options) -> None:
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


def create(ctx: Context, options: Options) -> MemCollector:
    """Build the collector."""
    return MemCollector(ctx, options)
