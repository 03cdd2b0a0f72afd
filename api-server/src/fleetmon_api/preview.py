"""Rule preview: what a rule, as written, sees on every host in its scope right now.

The alert worker (`fleetmon_alerts.observe`) is the authority on evaluation; this module
asks the store the same question (one aggregate over the rule's window for every host in
scope, or the heartbeat age for `host_down`) and groups the answer the same way: one alert
per host, valued by its worst series. tests/api/test_rule_preview.py holds the two to the
same answers on the same data.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleetmon_db.models import RuleKind
from fleetmon_db.timeseries import NS, Aggregate, Selector, TimeSeriesStore

# The worker's comparison semantics (fleetmon_alerts.rules.COMPARISONS).
COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
# The store looks a host_down rule's metric up this far back (as the worker does).
HEARTBEAT_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class HostInfo:
    """What the preview needs of one enrolled host."""

    name: str
    labels: Mapping[str, Any]
    last_seen: datetime | None


@dataclass
class HostResult:
    """One host's view of the rule: does the condition hold, and the value that decided it."""

    host: str
    matches: bool
    value: float | None
    series: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """The parts of a rule the condition depends on."""

    kind: str
    metric: str
    tags: Mapping[str, str]
    aggregate: str
    window_s: int
    comparison: str
    threshold: float
    scope_hosts: Sequence[str]
    scope_labels: Mapping[str, str]


def store_aggregate(name: str) -> Aggregate:
    """Rule authors say `avg`; the store says `mean`."""
    return Aggregate.MEAN if name == "avg" else Aggregate(name)


def in_scope(spec: RuleSpec, hosts: Sequence[HostInfo]) -> list[str] | None:
    """Host names the rule covers; None means every host (the worker's `hosts_in_scope`)."""
    listed = list(spec.scope_hosts)
    wanted = dict(spec.scope_labels)
    if not listed and not wanted:
        return None
    names = [
        h.name
        for h in hosts
        if (not listed or h.name in listed)
        and all(str(h.labels.get(k)) == str(v) for k, v in wanted.items())
    ]
    if listed and not wanted:
        names = sorted(set(names) | set(listed))  # listed hosts count before they report
    return names


def _ns(t: datetime) -> int:
    return int(t.timestamp() * NS)


def threshold(
    spec: RuleSpec, store: TimeSeriesStore, now: datetime, scope: list[str] | None
) -> dict[str, HostResult]:
    """Per host with data: whether any series meets the condition, valued by the worst one."""
    if scope == []:
        return {}
    measurement, _, field_name = spec.metric.partition(".")
    selector = Selector(measurement, field_name, hosts=scope, tags=dict(spec.tags))
    start = _ns(now - timedelta(seconds=spec.window_s))
    samples = store.aggregate(selector, start, _ns(now) + 1, store_aggregate(spec.aggregate))
    compare = COMPARE[spec.comparison]
    low = spec.comparison in ("<", "<=")
    out: dict[str, HostResult] = {}
    for sample in samples:
        raw = sample.value
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            continue
        value = float(raw)
        hit = compare(value, spec.threshold)
        res = out.get(sample.key.host)
        if res is None:
            res = out[sample.key.host] = HostResult(sample.key.host, hit, value)
        elif hit and not res.matches:
            res.matches, res.value = True, value
        elif (
            hit == res.matches
            and res.value is not None
            and (value < res.value if low else value > res.value)
        ):
            res.value = value
        res.series.append({"tags": sample.key.tag_dict, "value": value, "matches": hit})
    return out


def host_down(
    spec: RuleSpec,
    hosts: Sequence[HostInfo],
    store: TimeSeriesStore,
    now: datetime,
    scope: list[str] | None,
) -> dict[str, HostResult]:
    """Per host ever heard from: seconds since its newest heartbeat, down past the window."""
    wanted = None if scope is None else set(scope)
    beat = {
        h.name: h.last_seen
        for h in hosts
        if h.last_seen is not None and (wanted is None or h.name in wanted)
    }
    if spec.metric:
        measurement, _, field_name = spec.metric.partition(".")
        selector = Selector(measurement, field_name, hosts=scope, tags=dict(spec.tags))
        lookback = max(timedelta(seconds=spec.window_s), HEARTBEAT_LOOKBACK)
        for sample in store.latest_many([selector], _ns(now - lookback)):
            seen = min(datetime.fromtimestamp(sample.time_ns / NS, now.tzinfo), now)
            prev = beat.get(sample.key.host)
            if prev is None or prev < seen:
                beat[sample.key.host] = seen
    out: dict[str, HostResult] = {}
    for name, seen in beat.items():
        age = (now - seen).total_seconds()
        out[name] = HostResult(name, age >= spec.window_s, age)
    return out


def preview(
    spec: RuleSpec, hosts: Sequence[HostInfo], store: TimeSeriesStore, now: datetime
) -> tuple[list[str] | None, dict[str, HostResult]]:
    """(the hosts in scope or None for all, each reporting host's result)."""
    scope = in_scope(spec, hosts)
    if spec.kind == RuleKind.HOST_DOWN:
        return scope, host_down(spec, hosts, store, now, scope)
    return scope, threshold(spec, store, now, scope)
