"""`processes`: process counts by state and the total number of threads."""

from __future__ import annotations

from fleetmon_agent.collectors import procscan
from fleetmon_agent.collectors.base import Context, Options
from fleetmon_agent.points import FieldValue, Point

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
}


class ProcessesCollector:
    """Telegraf's `processes` measurement."""

    def __init__(self, ctx: Context, options: Options) -> None:
        self.ctx = ctx

    def collect(self, now: float) -> list[Point]:
        """One `processes` point."""
        fields: dict[str, FieldValue] = {name: 0 for name in sorted(set(STATES.values()))}
        fields["unknown"] = 0
        threads = 0
        procs = procscan.scan(self.ctx)
        for p in procs:
            key = STATES.get(p.state, "unknown")
            fields[key] = int(fields[key]) + 1
            threads += p.num_threads
        fields["total"] = len(procs)
        fields["total_threads"] = threads
        return [Point("processes", now, {}, fields)]


def create(ctx: Context, options: Options) -> ProcessesCollector:
    """Build the collector."""
    return ProcessesCollector(ctx, options)
