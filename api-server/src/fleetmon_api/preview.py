"""Rule preview: what a rule, as written, sees on every host in its scope right now.

The alert worker (`fleetmon_alerts.observe`) is the authority on evaluation; this module
asks the store the same question (one aggregate over the rule's window for every host in
scope, or the heartbeat age for `host_down`) and groups the answer the same way: one alert
per host, valued by its worst series. tests/api/test_rule_preview.py holds the two to the
same answers on the same data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleetmon_db.alerting import (
    AGGREGATES,
    HEARTBEAT_LOOKBACK,
    HOST_RECORD_KINDS,
    Comparison,
    RuleKind,
)
from fleetmon_db.alerting.scope import hosts_in_scope
from fleetmon_db.hostloss import DropLike, observe_record
from fleetmon_db.metric import split_metric
from fleetmon_db.timeseries import NS, Selector, TimeSeriesStore


@dataclass(frozen=True, slots=True)
class HostInfo:
    """What the preview needs of one enrolled host."""

    name: str
    labels: Mapping[str, Any]
    last_seen: datetime | None
    # For data_loss and clock_skew rules: the host's losses and clock (fleetmon_db.hostloss).
    drops: Sequence[DropLike] = ()
    clock_offset_s: float | None = None
    clock_measured_at: datetime | None = None


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


def in_scope(spec: RuleSpec, hosts: Sequence[HostInfo]) -> list[str] | None:
    """Host names the rule covers; None means every host (as the worker decides it)."""
    scope = {"hosts": list(spec.scope_hosts), "labels": dict(spec.scope_labels)}
    return hosts_in_scope(scope, [(h.name, h.labels) for h in hosts])


def _ns(t: datetime) -> int:
    return int(t.timestamp() * NS)


def threshold(
    spec: RuleSpec, store: TimeSeriesStore, now: datetime, scope: list[str] | None
) -> dict[str, HostResult]:
    """Per host with data: whether any series meets the condition, valued by the worst one."""
    if scope == []:
        return {}
    measurement, field_name = split_metric(spec.metric)
    selector = Selector(measurement, field_name, hosts=scope, tags=dict(spec.tags))
    start = _ns(now - timedelta(seconds=spec.window_s))
    samples = store.aggregate(selector, start, _ns(now) + 1, AGGREGATES[spec.aggregate])
    comparison = Comparison(spec.comparison)
    compare, low = comparison.test, comparison.low_is_worse
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
        measurement, field_name = split_metric(spec.metric)
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
    if spec.kind in HOST_RECORD_KINDS:
        return scope, host_record(spec, hosts, now, scope)
    return scope, threshold(spec, store, now, scope)


def host_record(
    spec: RuleSpec, hosts: Sequence[HostInfo], now: datetime, scope: list[str] | None
) -> dict[str, HostResult]:
    """Per host with losses or a measured clock: the worker's `observe_record` answer."""
    wanted = None if scope is None else set(scope)
    out: dict[str, HostResult] = {}
    for h in hosts:
        if wanted is not None and h.name not in wanted:
            continue
        got = observe_record(
            spec.kind,
            spec.window_s,
            spec.comparison,
            spec.threshold,
            h.drops,
            h.clock_offset_s,
            h.clock_measured_at,
            now,
        )
        if got is not None:
            out[h.name] = HostResult(h.name, got[0], got[1])
    return out
