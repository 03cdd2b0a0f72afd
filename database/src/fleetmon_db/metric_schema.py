"""The agent's metric declarations, as the server uses them: counters and field types.

The agent's collectors declare what they emit (fleetmon_agent.collectors, pure data); this
module is the server's one door to that table, so which fields are counters and what type
each field has are decided by the collector that emits them, nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping

from fleetmon_agent.collectors import measurements
from fleetmon_agent.schema import COUNTER, Measurement

MEASUREMENTS: Mapping[str, Measurement] = measurements()

# Monotonic counters (Telegraf semantics): history shows them as per-second rates by default.
COUNTERS: Mapping[str, frozenset[str]] = {
    name: m.counters() for name, m in MEASUREMENTS.items() if m.counters()
}

# (measurement, field) -> the Python type of its values: float, int, bool or str.
FIELD_TYPES: Mapping[tuple[str, str], type] = {
    (m.name, f.name): f.type for m in MEASUREMENTS.values() for f in m.fields
}


def is_counter(measurement: str, field: str) -> bool:
    """True for fields that only grow (rates make sense, raw values do not)."""
    f = MEASUREMENTS[measurement].by_field.get(field) if measurement in MEASUREMENTS else None
    return f is not None and f.kind == COUNTER


def expected_type(measurement: str, field: str) -> type | None:
    """The declared type of a field the agent emits (None: not one of the agent's fields)."""
    return FIELD_TYPES.get((measurement, field))
