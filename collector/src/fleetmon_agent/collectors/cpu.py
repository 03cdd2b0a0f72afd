"""`cpu`: usage percentages from deltas of cumulative CPU times (never sleeps)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.options import Boolean, Option
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import COUNTER, GAUGE, Field, Measurement, Prom, Tag

# The CPU states, as psutil (and /proc/stat) name them. On Linux user and nice include the
# time spent running guests (guest, guest_nice); total time counts it once.
STATES = ("user", "system", "idle", "iowait", "steal", "nice", "irq", "softirq")
GUEST = ("guest", "guest_nice")
_HELP = {
    "user": "running user-space code",
    "system": "running kernel code",
    "idle": "idle, no I/O outstanding",
    "iowait": "idle with I/O outstanding",
    "steal": "taken by the hypervisor for other guests",
    "nice": "running niced user-space code",
    "irq": "servicing hardware interrupts",
    "softirq": "servicing software interrupts",
    "guest": "running a guest's virtual CPU",
    "guest_nice": "running a niced guest's virtual CPU",
    "active": "everything but idle",
}


class CpuOptions(CollectorOptions):
    """`collectors.cpu`."""

    interval = every(5.0)
    percpu = Option(True, Boolean(), "one point per core (tag cpu=cpu0, cpu1, ...)")
    totalcpu = Option(True, Boolean(), "one point for all cores together (tag cpu=cpu-total)")
    collect_cpu_time = Option(False, Boolean(), "also the cumulative seconds (time_* fields)")


# node_exporter's names for the cumulative seconds (time_* fields; pull mode serves them
# whether or not collect_cpu_time sends them).
_NODE_SECONDS = "Seconds the CPUs spent in each mode."
_NODE_GUEST = "Seconds the CPUs spent in guests (VMs) for each mode."


def _node(state: str) -> Prom | None:
    if state in STATES:
        return Prom("node_cpu_seconds_total", _NODE_SECONDS, labels={"mode": state})
    if state in GUEST:
        mode = "user" if state == "guest" else "nice"
        return Prom("node_cpu_guest_seconds_total", _NODE_GUEST, labels={"mode": mode})
    return None


def _node_labels(tags: Mapping[str, str], extra: Mapping[str, FieldValue]) -> dict[str, str] | None:
    # node_exporter labels cores "0", "1", ... and has no total.
    cpu = tags.get("cpu", "")
    return {"cpu": cpu[3:]} if cpu.startswith("cpu") and cpu[3:].isdigit() else None


MEASUREMENT = Measurement(
    "cpu",
    "CPU time by state: percent since the previous sample, and (optionally) seconds since boot",
    (Tag("cpu", "cpu0, cpu1, ... or cpu-total"),),
    (
        *(
            Field(f"usage_{s}", float, GAUGE, "percent", _HELP[s])
            for s in (*STATES, *GUEST, "active")
        ),
        *(
            Field(
                f"time_{s}",
                float,
                COUNTER,
                "seconds",
                _HELP[s],
                when="collect_cpu_time",
                prom=_node(s),
            )
            for s in (*STATES, *GUEST, "active")
        ),
    ),
    source="telegraf inputs.cpu",
    labels_of=_node_labels,
)


def _as_dict(times: Any) -> dict[str, float]:
    return {name: float(getattr(times, name, 0.0)) for name in (*STATES, *GUEST)}


def usage(prev: dict[str, float], cur: dict[str, float]) -> dict[str, FieldValue]:
    """Percentages of each CPU state between two cumulative samples (Telegraf's arithmetic:
    guest time is taken out of user and nice, where the kernel counts it too)."""
    delta = {k: max(cur[k] - prev.get(k, 0.0), 0.0) for k in cur}
    total = sum(delta[k] for k in STATES)
    if total <= 0:
        return {}
    delta["user"] = max(delta["user"] - delta["guest"], 0.0)
    delta["nice"] = max(delta["nice"] - delta["guest_nice"], 0.0)
    fields: dict[str, FieldValue] = {
        f"usage_{k}": round(100.0 * delta[k] / total, 3) for k in (*STATES, *GUEST)
    }
    # Telegraf's report_active: one number for "how busy", which alert rules and people
    # read more naturally than idle < 20. Always on here.
    fields["usage_active"] = round(100.0 * (total - delta["idle"]) / total, 3)
    return fields


def times(cur: dict[str, float]) -> dict[str, FieldValue]:
    """Telegraf's time_* fields: cumulative seconds per state (time_active: all but idle)."""
    fields: dict[str, FieldValue] = {f"time_{k}": round(v, 2) for k, v in cur.items()}
    fields["time_active"] = round(sum(cur[k] for k in STATES if k != "idle"), 2)
    return fields


class CpuCollector:
    """Total and per-core CPU usage; the first sample covers the time since boot."""

    def __init__(self, ctx: Context, options: CpuOptions) -> None:
        self.ctx = ctx
        self.percpu = options.percpu
        self.totalcpu = options.totalcpu
        self.cpu_time = options.collect_cpu_time
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
            extra: dict[str, FieldValue] | None = None
            if self.cpu_time:
                fields.update(times(cur))
            elif self.ctx.expose:  # pull mode serves the seconds (node_cpu_seconds_total)
                extra = times(cur)
            if fields:
                points.append(Point("cpu", now, {"cpu": cpu}, fields, extra))
        return points


def create(ctx: Context, options: CpuOptions) -> CpuCollector:
    """Build the collector."""
    return CpuCollector(ctx, options)


SPEC = CollectorSpec("cpu", "CPU usage per core and in total", CpuOptions, create, (MEASUREMENT,))
