"""Evaluation against every real store: thresholds, scope, templates, rates, silences,
resolved and repeated notifications, one store query per rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts import payload
from fleetmon_alerts.clock import to_ns
from fleetmon_alerts.evaluate import Evaluator
from fleetmon_db.models import AlertState, Silence
from fleetmon_db.timeseries import Point, TimeSeriesStore
from tests.alerts.helpers import add_channel, add_host, add_rule, events, notifications
from tests.support.clock import FakeClock

CPU_RULE: dict[str, Any] = {
    "name": "CPU usage high",
    "metric": "cpu.usage_idle",
    "tags": {"cpu": "cpu-total"},
    "aggregate": "avg",
    "window_s": 60,
    "comparison": "<",
    "threshold": 20.0,
    "for_s": 60,
    "severity": "warning",
    "annotations": {"summary": "$host busy: idle $value % < $threshold % ($label_role)"},
}


class CountingStore:
    """Wraps a store and counts the calls the evaluator makes."""

    def __init__(self, inner: TimeSeriesStore) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if callable(attr):  # calls, not declarations such as `capabilities`
            self.calls.append(name)
        return attr


def cpu(
    store: TimeSeriesStore, at: datetime, idle: dict[str, float], cpu: str = "cpu-total"
) -> None:
    """Write one cpu point per host, 10 s apart for the last window."""
    points = [
        Point(host, "cpu", to_ns(at - timedelta(seconds=s)), {"cpu": cpu}, {"usage_idle": v})
        for host, v in idle.items()
        for s in (0, 10, 20, 30, 40, 50)
    ]
    store.write(points)


def test_threshold_for_scope_template_and_one_query_per_rule(
    sessions: sessionmaker[Session], store: TimeSeriesStore, clock: FakeClock
) -> None:
    for name, role in (("a", "web"), ("b", "web"), ("c", "db")):
        add_host(sessions, name, {"role": role})
    add_rule(sessions, **CPU_RULE)
    add_rule(sessions, **{**CPU_RULE, "name": "db only", "scope": {"labels": {"role": "db"}}})
    add_channel(sessions, "hook", "webhook", {"url": "http://127.0.0.1:9/x"})
    now = clock.now()
    cpu(store, now, {"a": 3.0, "b": 55.0, "c": 12.0})
    cpu(store, now, {"b": 1.0}, cpu="cpu0")  # busy core on b: not cpu-total, must not count
    store.write(
        [
            Point(
                "a",
                "procstat",
                to_ns(now),
                {"process_name": "burn", "pid": "9"},
                {"cpu_usage": 99.0, "memory_usage": 1.5},
            )
        ]
    )
    counting = CountingStore(store)
    ev = Evaluator(sessions, counting, clock, "http://ui.test")
    first = ev.run_once()
    # One query per rule, all hosts (a store that combines aggregates is asked for several).
    ask = "aggregate_many" if store.capabilities.combined_aggregates else "aggregate"
    assert counting.calls == [ask, ask]
    assert sorted((d.rule, d.host, d.to_status) for d in first) == [
        ("CPU usage high", "a", "pending"),
        ("CPU usage high", "c", "pending"),
        ("db only", "c", "pending"),
    ]
    clock.advance(59)
    cpu(store, clock.now(), {"a": 3.0, "b": 55.0, "c": 12.0})
    assert ev.run_once() == []  # 59 s < for
    clock.advance(1)
    cpu(store, clock.now(), {"a": 3.0, "b": 55.0, "c": 12.0})
    fired = ev.run_once()
    assert sorted((d.rule, d.host, d.to_status, d.notifications) for d in fired) == [
        ("CPU usage high", "a", "firing", 1),
        ("CPU usage high", "c", "firing", 1),
        ("db only", "c", "firing", 1),
    ]
    rows = notifications(sessions)
    assert len(rows) == 3
    pa = next(r.payload for r in rows if r.payload["host"] == "a")
    assert pa["value"] == pytest.approx(3.0)
    assert pa["annotations"]["summary"] == "a busy: idle 3.00 % < 20 % (web)"
    assert pa["host_url"] == "http://ui.test/hosts/a"
    assert pa["top_processes"]["cpu"][0]["name"] == "burn"
    assert pa["since"] == clock.now().isoformat()


def test_resolve_notifies_only_where_firing_went_and_repeat(
    sessions: sessionmaker[Session], store: TimeSeriesStore, clock: FakeClock
) -> None:
    add_host(sessions, "a")
    add_rule(sessions, **{**CPU_RULE, "for_s": 0})
    add_channel(sessions, "quiet", "log", {}, send_resolved=False, repeat_interval_s=600)
    add_channel(sessions, "loud", "log", {}, repeat_interval_s=300)
    add_channel(sessions, "crit-only", "log", {}, min_severity="critical")
    ev = Evaluator(sessions, store, clock)
    cpu(store, clock.now(), {"a": 2.0})
    assert [d.notifications for d in ev.run_once()] == [2]
    clock.advance(299)
    cpu(store, clock.now(), {"a": 2.0})
    assert ev.run_once() == []
    clock.advance(1)
    cpu(store, clock.now(), {"a": 2.0})
    repeat = ev.run_once()
    assert [(d.to_status, d.repeat, d.notifications) for d in repeat] == [("firing", True, 1)]
    clock.advance(61)  # idle data only from now on: the window holds no busy sample
    cpu(store, clock.now(), {"a": 90.0})
    assert [(d.to_status, d.notifications) for d in ev.run_once()] == [("resolved", 1)]
    assert events(sessions) == [
        ("a", "inactive", "firing"),
        ("a", "firing", "firing"),
        ("a", "firing", "resolved"),
    ]
    assert [r.payload["status"] for r in notifications(sessions)] == [
        "firing",
        "firing",
        "firing",
        "resolved",
    ]


def test_rate_rule_on_agent_counter(
    sessions: sessionmaker[Session], store: TimeSeriesStore, clock: FakeClock
) -> None:
    add_rule(
        sessions,
        name="drops",
        kind="agent_health",
        metric="fleetmon_agent.dropped_points",
        aggregate="rate",
        window_s=300,
        comparison=">",
        threshold=0.0,
        for_s=0,
    )
    now = clock.now()
    pts = []
    for i in range(10):
        t = to_ns(now - timedelta(seconds=30 * i))
        pts.append(Point("ok", "fleetmon_agent", t, {"version": "1"}, {"dropped_points": 7}))
        pts.append(Point("bad", "fleetmon_agent", t, {"version": "1"}, {"dropped_points": 100 - i}))
    store.write(pts)
    decisions = Evaluator(sessions, store, clock).run_once()
    assert [(d.host, d.to_status) for d in decisions] == [("bad", "firing")]
    assert decisions[0].value == pytest.approx(1 / 30, rel=0.05)


def test_silence_mutes_then_notifies_when_it_ends(
    sessions: sessionmaker[Session], sqlite_store: TimeSeriesStore, clock: FakeClock
) -> None:
    add_host(sessions, "a", {"team": "web"})
    rule_id = add_rule(sessions, **{**CPU_RULE, "for_s": 0})
    add_channel(sessions, "log", "log", {})
    with sessions() as s:
        s.add(
            Silence(
                rule_id=rule_id,
                labels={"team": "web"},
                starts_at=clock.now(),
                ends_at=clock.now() + timedelta(seconds=120),
            )
        )
        s.commit()
    ev = Evaluator(sessions, sqlite_store, clock)
    cpu(sqlite_store, clock.now(), {"a": 2.0})
    first = ev.run_once()
    assert [(d.to_status, d.silenced, d.notifications) for d in first] == [("firing", True, 0)]
    clock.advance(60)
    cpu(sqlite_store, clock.now(), {"a": 2.0})
    assert ev.run_once() == []
    assert notifications(sessions) == []
    clock.advance(60)  # the silence has ended, the alert still fires
    cpu(sqlite_store, clock.now(), {"a": 2.0})
    late = ev.run_once()
    assert [(d.to_status, d.repeat, d.notifications) for d in late] == [("firing", False, 1)]
    with sessions() as s:
        state = s.scalars(select(AlertState)).one()
        assert state.status == "firing"
        assert state.last_notified_at == clock.now()


def test_silence_ending_on_a_refired_alert_notifies_then_resolves(
    sessions: sessionmaker[Session], sqlite_store: TimeSeriesStore, clock: FakeClock
) -> None:
    # Fired and notified, resolved and notified, fired again under a silence: when the
    # silence ends the new episode is notified at the next evaluation, not a repeat interval
    # after the previous episode's notification, and its resolution goes out too.
    add_host(sessions, "a", {"team": "web"})
    rule_id = add_rule(sessions, **{**CPU_RULE, "for_s": 0})
    add_channel(sessions, "log", "log", {})
    ev = Evaluator(sessions, sqlite_store, clock)

    def at(idle: float) -> list[tuple[str, str, int, bool, bool]]:
        cpu(sqlite_store, clock.now(), {"a": idle})
        return [(d.from_status, d.to_status, d.notifications, d.silenced, d.repeat)
                for d in ev.run_once()]  # fmt: skip

    assert at(2.0) == [("inactive", "firing", 1, False, False)]
    clock.advance(60)
    assert at(90.0) == [("firing", "resolved", 1, False, False)]
    with sessions() as s:
        s.add(
            Silence(
                rule_id=rule_id,
                starts_at=clock.now(),
                ends_at=clock.now() + timedelta(seconds=150),
            )
        )
        s.commit()
    clock.advance(60)
    assert at(2.0) == [("resolved", "firing", 0, True, False)]
    clock.advance(60)
    assert at(2.0) == []  # still silenced
    clock.advance(60)  # the silence ended 30 s ago; the previous notification is 3 min old
    assert at(2.0) == [("firing", "firing", 1, False, False)]
    clock.advance(60)
    assert at(2.0) == []  # notified once, not again until the repeat interval
    clock.advance(60)
    assert at(90.0) == [("firing", "resolved", 1, False, False)]
    sent = [n.payload["status"] for n in notifications(sessions)]
    assert sent == ["firing", "resolved", "firing", "resolved"]


def test_top_processes_come_from_the_newest_collection(
    store: TimeSeriesStore, clock: FakeClock
) -> None:
    now = clock.now()

    def collection(at: datetime, procs: dict[str, float]) -> None:
        store.write(
            [
                Point("a", "procstat", to_ns(at), {"process_name": name, "pid": str(i)},
                      {"cpu_usage": v, "memory_usage": v / 10})
                for i, (name, v) in enumerate(procs.items())
            ]
        )  # fmt: skip

    # 100 s ago two busy processes ran that have exited since; the newest collection does
    # not list them, so neither may the notification.
    collection(now - timedelta(seconds=100), {"gone-1": 99.0, "gone-2": 98.0, "stays": 5.0})
    collection(now - timedelta(seconds=10), {"stays": 7.0, "new": 3.0})
    procs = payload.top_processes(store, "a", now)
    assert [(p["name"], p["value"]) for p in procs["cpu"]] == [("stays", 7.0), ("new", 3.0)]
    assert [p["name"] for p in procs["memory"]] == ["stays", "new"]


def test_summary_and_value_describe_the_same_evaluation(
    sessions: sessionmaker[Session], sqlite_store: TimeSeriesStore, clock: FakeClock
) -> None:
    add_host(sessions, "a", {"role": "web"})
    add_rule(sessions, **{**CPU_RULE, "for_s": 0})
    add_channel(sessions, "log", "log", {}, repeat_interval_s=120)
    ev = Evaluator(sessions, sqlite_store, clock)

    def summary(value: float) -> str:
        return f"a busy: idle {value:.2f} % < 20 % (web)"

    cpu(sqlite_store, clock.now(), {"a": 3.0})
    ev.run_once()
    clock.advance(60)
    cpu(sqlite_store, clock.now(), {"a": 7.0})
    ev.run_once()
    with sessions() as s:
        state = s.scalars(select(AlertState)).one()
        # The live alert (what the UI shows): the current value and a summary made from it.
        assert state.value is not None
        assert state.value > 3.0
        assert state.annotations["summary"] == summary(state.value)
    clock.advance(60)
    cpu(sqlite_store, clock.now(), {"a": 9.0})
    assert [d.repeat for d in ev.run_once()] == [True]
    first, repeat = (n.payload for n in notifications(sessions))
    assert first["value"] == pytest.approx(3.0)
    assert first["annotations"]["summary"] == summary(3.0)
    assert repeat["value"] > state.value
    assert repeat["annotations"]["summary"] == summary(repeat["value"])
