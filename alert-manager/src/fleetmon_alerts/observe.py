"""What a rule sees right now, per host: one store query per rule, for every host in scope."""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleetmon_alerts.clock import from_ns, to_ns
from fleetmon_db.alerting import (
    AGGREGATES,
    HEARTBEAT_LOOKBACK,
    HOST_RECORD_KINDS,
    Comparison,
    RuleKind,
)
from fleetmon_db.alerting.scope import hosts_in_scope
from fleetmon_db.hostloss import observe_record
from fleetmon_db.metric import split_metric
from fleetmon_db.models import AlertRule, Host
from fleetmon_db.timeseries import Aggregate, Sample, Selector, TimeSeriesStore

# Store questions in flight at once at the start of a cycle (see prefetch).
PREFETCH_WORKERS = 4


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
    if rule.kind in HOST_RECORD_KINDS:
        return _host_record(rule, hosts, now, scope)
    return _threshold(rule, store, now, {} if cache is None else cache, scope, keep)


def _scope(rule: AlertRule, hosts: Sequence[Host], scopes: ScopeCache) -> list[str] | None:
    key = json.dumps(rule.scope or {}, sort_keys=True, default=str)
    if key not in scopes:
        scopes[key] = hosts_in_scope(rule.scope, [(h.name, h.labels) for h in hosts])
    return scopes[key]


def _query(rule: AlertRule, scope: list[str] | None, now: datetime) -> tuple[QueryKey, Question]:
    """The store question a threshold rule asks, and its cache key."""
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
    selector = Selector(measurement, field_name, hosts=scope, tags=tags)
    # The store window is [start, end): +1 ns so a point stamped exactly `now` counts.
    start_ns, end_ns = to_ns(now - timedelta(seconds=rule.window_s)), to_ns(now) + 1
    return key, Question(selector, start_ns, end_ns, aggregate)


@dataclass(frozen=True)
class Question:
    """One store aggregate() call."""

    selector: Selector
    start_ns: int
    end_ns: int
    aggregate: Aggregate

    def ask(self, store: TimeSeriesStore) -> list[Sample]:
        """Ask it."""
        return store.aggregate(self.selector, self.start_ns, self.end_ns, self.aggregate)


def query_workers(store: TimeSeriesStore) -> int:
    """How many store questions to have in flight: in-process SQLite competes with the
    evaluation for the same cores (measured slower with threads), so one at a time; a
    server store (PostgreSQL, InfluxDB) works in its own process and overlaps with us."""
    return PREFETCH_WORKERS if store.capabilities.concurrent_queries else 1


def prefetch(
    rules: Sequence[AlertRule],
    hosts: Sequence[Host],
    store: TimeSeriesStore,
    now: datetime,
    cache: QueryCache,
    scopes: ScopeCache,
    workers: int | None = None,
) -> None:
    """Ask the store the cycle's distinct threshold questions concurrently, into `cache`.

    The store does most of the work in its own process (or, for SQLite, outside the GIL), so
    a few questions in flight overlap its work with ours. A question that fails is left out:
    its rules ask it again in `observe` and report the error as theirs.
    """
    todo: dict[QueryKey, Question] = {}
    for rule in rules:
        if rule.kind == RuleKind.HOST_DOWN or rule.kind in HOST_RECORD_KINDS:
            continue
        try:
            scope = _scope(rule, hosts, scopes)
            if scope == []:
                continue
            key, question = _query(rule, scope, now)
        except (ValueError, KeyError, TypeError):  # a broken rule reports it in observe()
            continue
        if key not in cache:
            todo.setdefault(key, question)
    # A store that answers several aggregates of one selector in one go (InfluxDB) is asked
    # once per selector and window instead of once per aggregate.
    many = store.capabilities.combined_aggregates
    tasks: list[tuple[list[QueryKey], Callable[[], list[list[Sample]]]]] = []
    if many:
        groups: dict[QueryKey, list[QueryKey]] = {}
        for key in todo:
            groups.setdefault(key[:-1], []).append(key)
        for keys in groups.values():
            q = todo[keys[0]]
            aggs = [todo[k].aggregate for k in keys]

            def ask_many(q: Question = q, aggs: list[Aggregate] = aggs) -> list[list[Sample]]:
                got = store.aggregate_many(q.selector, q.start_ns, q.end_ns, aggs)
                return [got[a] for a in aggs]

            tasks.append((keys, ask_many))
    else:
        for key, q in todo.items():

            def ask_one(q: Question = q) -> list[list[Sample]]:
                return [q.ask(store)]

            tasks.append(([key], ask_one))
    if workers is None:
        workers = query_workers(store)
    if not many and (len(tasks) < 2 or workers < 2):
        return
    with ThreadPoolExecutor(
        max(1, min(workers, len(tasks))), thread_name_prefix="alerts-query"
    ) as pool:
        futures = [(keys, pool.submit(fn)) for keys, fn in tasks]
        for keys, fut in futures:
            if fut.exception() is None:
                for key, samples in zip(keys, fut.result(), strict=True):
                    cache[key] = samples


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
    key, question = _query(rule, scope, now)
    samples = cache.get(key)
    if samples is None:
        samples = cache[key] = question.ask(store)
    comparison = Comparison(rule.comparison)
    compare, low = comparison.test, comparison.low_is_worse
    threshold = rule.threshold
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


def _host_record(
    rule: AlertRule, hosts: Sequence[Host], now: datetime, scope: list[str] | None
) -> dict[str, Observation]:
    # What the API keeps per host (losses, clock offset): the database, not the store, holds it.
    wanted = None if scope is None else set(scope)
    out: dict[str, Observation] = {}
    for h in hosts:
        if wanted is not None and h.name not in wanted:
            continue
        got = observe_record(
            rule.kind,
            rule.window_s,
            rule.comparison,
            rule.threshold,
            h.drops,
            h.clock_offset_s,
            h.clock_measured_at,
            now,
        )
        if got is not None:
            out[h.name] = Observation(h.name, got[0], got[1])
    return out
