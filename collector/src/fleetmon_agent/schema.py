"""What a collector emits, declared next to its code: measurements, tags, fields, exposition.

A field's declaration says its name, value type, whether it is a counter (only grows: rates
are derived at query time) or a gauge, its unit and one line of help; `prom` says how pull
mode serves it (node_exporter's metric name where node_exporter has one). The server reads
the same declarations (counters, field types), so they stay pure data: importing them
imports no psutil and starts nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Optional

from fleetmon_agent.points import FieldValue, Point

COUNTER = "counter"  # only grows (until a reboot or a wrap): rates make sense, raw values not
GAUGE = "gauge"  # a level: the value itself is what matters
INFO = "info"  # text: a name, a command line, a formatted uptime
KINDS = (COUNTER, GAUGE, INFO)
TYPES: dict[type, str] = {float: "float", int: "int", bool: "bool", str: "str"}

# Exposition labels from a point's tags and exporter-only values; None leaves the point out.
LabelsOf = Callable[[Mapping[str, str], Mapping[str, FieldValue]], Optional[dict[str, str]]]
Derive = Callable[[Point], Optional[float]]


class Prom:
    """How one value is served in pull mode: a Prometheus metric, its HELP and TYPE, constant
    labels, a scale to base units (ms -> s), or a function deriving it from the whole point."""

    __slots__ = ("help", "labels", "name", "scale", "type", "value")

    def __init__(
        self,
        name: str,
        help: str,
        type: str = "",  # default: the field's kind (counter or gauge)
        labels: Mapping[str, str] | None = None,
        scale: float = 1.0,
        value: Derive | None = None,
    ) -> None:
        self.name = name
        self.help = help
        self.type = type
        self.labels: dict[str, str] = dict(labels or {})
        self.scale = scale
        self.value = value


class Tag:
    """A tag of a measurement."""

    __slots__ = ("help", "name")

    def __init__(self, name: str, help: str) -> None:
        self.name = name
        self.help = help


class Field:
    """A field of a measurement: value type, counter or gauge, unit, help, pull-mode metric.

    `when` names the option that must be set for the field to be emitted at all (Telegraf's
    optional fields, e.g. cpu's `collect_cpu_time`)."""

    __slots__ = ("help", "kind", "name", "prom", "type", "unit", "when")

    def __init__(
        self,
        name: str,
        type: type,
        kind: str,
        unit: str,
        help: str,
        *,
        when: str = "",
        prom: Prom | None = None,
    ) -> None:
        if type not in TYPES:
            raise ValueError(f"field {name}: type must be one of {list(TYPES.values())}")
        if kind not in KINDS:
            raise ValueError(f"field {name}: kind must be one of {KINDS}")
        self.name = name
        self.type = type
        self.kind = kind
        self.unit = unit
        self.help = help
        self.when = when
        self.prom = prom
        if prom is not None and not prom.type:
            prom.type = "counter" if kind == COUNTER else "gauge"

    def __repr__(self) -> str:
        return f"Field({self.name!r}, {TYPES[self.type]}, {self.kind})"


class Measurement:
    """One measurement: its tags and fields, where its names come from (e.g. Telegraf's
    `inputs.cpu`), and how points become exposition labels."""

    __slots__ = ("by_field", "derived", "fields", "help", "labels_of", "name", "source", "tags")

    def __init__(
        self,
        name: str,
        help: str,
        tags: tuple[Tag, ...],
        fields: tuple[Field, ...],
        *,
        source: str = "",
        labels_of: LabelsOf | None = None,
        derived: tuple[Prom, ...] = (),
    ) -> None:
        self.name = name
        self.help = help
        self.tags = tags
        self.fields = fields
        self.source = source
        self.labels_of = labels_of
        self.derived = derived  # metrics computed from several fields (need `value`)
        self.by_field: dict[str, Field] = {f.name: f for f in fields}
        if len(self.by_field) != len(fields):
            raise ValueError(f"measurement {name}: a field is declared twice")
        for p in derived:
            if p.value is None:
                raise ValueError(f"measurement {name}: derived {p.name} needs a value function")
            p.type = p.type or "gauge"

    def counters(self) -> frozenset[str]:
        """The names of the counter fields."""
        return frozenset(f.name for f in self.fields if f.kind == COUNTER)

    def __repr__(self) -> str:
        return f"Measurement({self.name!r}, {len(self.fields)} fields)"


def no_labels(tags: Mapping[str, str], extra: Mapping[str, Any]) -> dict[str, str]:
    """Exposition labels for a measurement with one series per host."""
    return {}
