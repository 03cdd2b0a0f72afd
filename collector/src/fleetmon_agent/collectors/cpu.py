"""`cpu`: usage percentages from deltas of cumulative CPU times (never sleeps)."""

from __future__ import annotations

from typing import Any

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.options import Boolean, Option
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import GAUGE, Field, Measurement, Tag

# psutil field -> Telegraf field. guest is already counted inside user on Linux.
FIELDS = (
    ("user", "usage_user"),
    ("system", "usage_system"),
    ("idle", "usage_idle"),
    ("iowait", "usage_iowait"),
    ("steal", "usage_steal"),
    ("nice", "usage_nice"),
    ("irq", "usage_irq"),
    ("softirq", "usage_softirq"),
    ("guest", "usage_guest"),
    ("guest_nice", "usage_guest_nice"),
)
_NOT_IN_TOTAL = ("guest", "guest_nice")


class CpuOptions(CollectorOptions):
    """`collectors.cpu`."""

    interval = every(5.0)
    percpu = Option(True, Boolean(), "one point per core (tag cpu=cpu0, cpu1, ...)")
    totalcpu = Option(True, Boolean(), "one point for all cores together (tag cpu=cpu-total)")


def _usage(state: str, help: str) -> Field:
    return Field(f"usage_{state}", float, GAUGE, "percent", help)


MEASUREMENT = Measurement(
    "cpu",
    "CPU time by state, in percent of the time since the previous sample",
    (Tag("cpu", "cpu0, cpu1, ... or cpu-total"),),
    (
        _usage("user", "running user-space code (guests included)"),
        _usage("system", "running kernel code"),
        _usage("idle", "idle, no I/O outstanding"),
        _usage("iowait", "idle with I/O outstanding"),
        _usage("steal", "taken by the hypervisor for other guests"),
        _usage("nice", "running niced user-space code"),
        _usage("irq", "servicing hardware interrupts"),
        _usage("softirq", "servicing software interrupts"),
        _usage("guest", "running a guest's virtual CPU"),
        _usage("guest_nice", "running a niced guest's virtual CPU"),
        _usage("active", "everything but idle (Telegraf's report_active)"),
    ),
    source="telegraf inputs.cpu",
)


def _as_dict(times: Any) -> dict[str, float]:
    return {name: float(getattr(times, name, 0.0)) for name, _ in FIELDS}


def usage(prev: dict[str, float], cur: dict[str, float]) -> dict[str, FieldValue]:
    """Percentages of each CPU state between two cumulative samples."""
    delta = {k: max(cur[k] - prev.get(k, 0.0), 0.0) for k in cur}
    total = sum(v for k, v in delta.items() if k not in _NOT_IN_TOTAL)
    if total <= 0:
        return {}
    fields: dict[str, FieldValue] = {
        out: round(100.0 * delta[name] / total, 3) for name, out in FIELDS
    }
    # Telegraf's report_active field: one number for "how busy", which alert rules and people
    # read more naturally than idle < 20.
    fields["usage_active"] = round(100.0 * (total - delta["idle"]) / total, 3)
    return fields


class CpuCollector:
    """Total and per-core CPU usage; the first sample covers the time since boot."""

    def __init__(self, ctx: Context, options: CpuOptions) -> None:
        self.ctx = ctx
        self.percpu = options.percpu
        self.totalcpu = options.totalcpu
        self._prev: dict[str, dict[str, float]] = {}

    def _samples(self) -> list[tuple[str, dict[str, float]]]:
        ps = self.ctx.ps()
        out: list[tuple[str, dict[str, float]]] = []
        if self.totalcpu:
            out.append(("cpu-total", _as_dict(ps.cpu_times())))
        if self.percpu:
            out.extend((f"cpu{i}", _as_dict(t)) for i, t in enumerate(ps.cpu_times(percpu=True)))
        return out

    def collect(self, now: float) -> list[Point]:
        """One point per CPU with usage since the previous call."""
        points: list[Point] = []
        for cpu, cur in self._samples():
            prev: dict[str, float] | None = self._prev.get(cpu)
            fields = usage(prev or {}, cur)
            self._prev[cpu] = cur
            if fields:
                points.append(Point("cpu", now, {"cpu": cpu}, fields))
        return points


def create(ctx: Context, options: CpuOptions) -> CpuCollector:
    """Build the collector."""
    return CpuCollector(ctx, options)


SPEC = CollectorSpec("cpu", "CPU usage per core and in total", CpuOptions, create, (MEASUREMENT,))
