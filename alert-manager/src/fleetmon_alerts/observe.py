"""What a rule sees right now, per host: one store query per rule, for every host in scope."""

from __future__ import annotations

import json
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleetmon_alerts.clock import from_ns, to_ns
from fleetmon_alerts.rules import AGGREGATES, COMPARISONS, hosts_in_scope, split_metric
from fleetmon_db.models import AlertRule, Host, RuleKind
from fleetmon_db.timeseries import Sample, Selector, TimeSeriesStore

HEARTBEAT_LOOKBACK = timedelta(days=1)


@dataclass
class Observation:
    """One host's view of one rule: does the condition hold, and the value that decided it."""

    host: str
    active: bool
    value: float | None
    details: dict[str, Any] = field(default_factory=dict)


QueryKey = tuple[Any, ...]
# Rules that ask the same question (warning and critical over one metric) share one answer
# per cycle: at most one store query per rule, often fewer.
QueryCache = dict[QueryKey, list[Sample]]
# Host scopes computed once per cycle: many rules share a scope ("all hosts", one label).
ScopeCache = dict[str, list[str] | None]


def observe(
    rule: AlertRule,
    hosts: Sequence[Host],
    store: TimeSeriesStore,
    now: datetime,
    cache: QueryCache | None = None,
    scopes: ScopeCache | None = None,
    keep: Container[str] | None = None,
) -> dict[str, Observation]:
    """Observations for every host in scope that has something to say about `rule`.

    With `keep` (the hosts that have a state for this rule), a threshold rule leaves out the
    hosts that neither breach nor are in `keep`: the caller has nothing to do for them, and
    a thousand healthy hosts per rule are not worth an object each.
    """
    scope = _scope(rule, hosts, {} if scopes is None else scopes)
    if rule.kind == RuleKind.HOST_DOWN:
        return _host_down(rule, hosts, store, now, scope)
    return _threshold(rule, store, now, {} if cache is None else cache, scope, keep)


def _scope(rule: AlertRule, hosts: Sequence[Host], scopes: ScopeCache) -> list[str] | None:
    key = json.dumps(rule.scope or {}, sort_keys=True, default=str)
    if key not in scopes:
        scopes[key] = hosts_in_scope(rule, hosts)
    return scopes[key]


def _threshold(
    rule: AlertRule,
    store: TimeSeriesStore,
    now: datetime,
    cache: QueryCache,
    scope: list[str] | None,
    keep: Container[str] | None = None,
) -> dict[str, Observation]:
    if scope == []:
        return {}
    measurement, field_name = split_metric(rule.metric)
    tags = dict(rule.tags or {})
    aggregate = AGGREGATES[rule.aggregate]
    key = (
        measurement,
        field_name,
        tuple(sorted(tags.items())),
        None if scope is None else tuple(scope),
        rule.window_s,
        aggregate,
    )
    samples = cache.get(key)
    if samples is None:
        selector = Selector(measurement, field_name, hosts=scope, tags=tags)
        start = now - timedelta(seconds=rule.window_s)
        # The store window is [start, end): +1 ns so a point stamped exactly `now` counts.
        samples = store.aggregate(selector, to_ns(start), to_ns(now) + 1, aggregate)
        cache[key] = samples
    compare = COMPARISONS[rule.comparison]
    threshold = rule.threshold
    low = rule.comparison in ("<", "<=")
    out: dict[str, Observation] = {}
    # Grouping per rule and host: several series of one host (disks, CPUs) make one alert,
    # valued by its worst series and listing every offending one.
    for sample in samples:
        raw = sample.value
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            continue
        value = float(raw)
        host = sample.key.host
        hit = compare(value, threshold)
        obs = out.get(host)
        if obs is None:
            if not hit and keep is not None and host not in keep:
                # A later breaching series of this host would replace this value anyway.
                continue
            obs = out[host] = Observation(host, hit, value, {"series": []})
        elif hit and not obs.active:
            obs.active, obs.value = True, value
        elif (
            hit == obs.active
            and obs.value is not None
            and (value < obs.value if low else value > obs.value)
        ):
            obs.value = value
        if hit:
            obs.details["series"].append({"tags": sample.key.tag_dict, "value": value})
    return out


def _host_down(
    rule: AlertRule,
    hosts: Sequence[Host],
    store: TimeSeriesStore,
    now: datetime,
    scope: list[str] | None,
) -> dict[str, Observation]:
    # Liveness is the latest *arrival* (hosts.last_seen, stamped by the API with server time)
    # or the latest point time, whichever is newer. Points replayed from an agent's spool
    # carry old timestamps: they can only add evidence of life, never take it away, so a
    # backfill neither fires a stale alert nor clears and re-fires one.
    wanted = None if scope is None else set(scope)
    in_scope = [h for h in hosts if wanted is None or h.name in wanted]
    silent_for = timedelta(seconds=rule.window_s)
    heartbeat: dict[str, datetime] = {h.name: h.last_seen for h in in_scope if h.last_seen}
    if rule.metric:
        measurement, field_name = split_metric(rule.metric)
        selector = Selector(measurement, field_name, hosts=scope, tags=dict(rule.tags or {}))
        # Look back well past the window: a host silent for an hour must read as down for an
        # hour, not vanish from view (a day bounds the cost of the query).
        lookback = max(silent_for, HEARTBEAT_LOOKBACK)
        for sample in store.latest_many([selector], to_ns(now - lookback)):
            seen = min(from_ns(sample.time_ns), now)  # an agent clock ahead of ours proves nothing
            host = sample.key.host
            if host not in heartbeat or heartbeat[host] < seen:
                heartbeat[host] = seen
    out: dict[str, Observation] = {}
    for host, seen in heartbeat.items():
        age = (now - seen).total_seconds()
        out[host] = Observation(host, age >= rule.window_s, age, {"last_seen": seen.isoformat()})
    return out
