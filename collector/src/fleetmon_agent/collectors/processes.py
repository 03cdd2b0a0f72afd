"""`processes`: process counts by state and the total number of threads."""

from __future__ import annotations

from fleetmon_agent.collectors import procscan
from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import GAUGE, Field, Measurement

# /proc state letter -> Telegraf field.
STATES = {
    "R": "running",
    "S": "sleeping",
    "D": "blocked",
    "Z": "zombies",
    "T": "stopped",
    "t": "stopped",
    "X": "dead",
    "I": "idle",
    "W": "paging",
    "P": "parked",
}


class ProcessesOptions(CollectorOptions):
    """`collectors.processes`."""

    interval = every(15.0)


def _count(name: str, help: str) -> Field:
    return Field(name, int, GAUGE, "processes", help)


MEASUREMENT = Measurement(
    "processes",
    "Processes by state",
    (),
    (
        _count("running", "running or runnable (R)"),
        _count("sleeping", "interruptible sleep (S)"),
        _count("blocked", "uninterruptible sleep, usually I/O (D)"),
        _count("zombies", "exited, not yet reaped (Z)"),
        _count("stopped", "stopped or traced (T, t)"),
        _count("dead", "dead (X)"),
        _count("idle", "idle kernel threads (I)"),
        _count("paging", "paging (W, kernels before 2.6)"),
        _count("parked", "parked kernel threads (P); only when there are any"),
        _count("unknown", "in a state not listed here"),
        _count("total", "all processes"),
        Field("total_threads", int, GAUGE, "threads", "threads of all processes"),
    ),
    source="telegraf inputs.processes",
)


class ProcessesCollector:
    """Telegraf's `processes` measurement."""

    def __init__(self, ctx: Context, options: ProcessesOptions) -> None:
        self.ctx = ctx

    def collect(self, now: float) -> list[Point]:
        """One `processes` point."""
        fields: dict[str, FieldValue] = {name: 0 for name in sorted(set(STATES.values()))}
        fields["unknown"] = 0
        del fields["parked"]  # Telegraf reports it only when it has seen one
        threads = 0
        procs = procscan.scan(self.ctx)
        for p in procs:
            key = STATES.get(p.state, "unknown")
            fields[key] = int(fields.get(key, 0)) + 1
            threads += p.num_threads
        fields["total"] = len(procs)
        fields["total_threads"] = threads
        return [Point("processes", now, {}, fields)]


def create(ctx: Context, options: ProcessesOptions) -> ProcessesCollector:
    """Build the collector."""
    return ProcessesCollector(ctx, options)


SPEC = CollectorSpec(
    "processes", "processes by state", ProcessesOptions, create, (MEASUREMENT,), heavy=True
)
