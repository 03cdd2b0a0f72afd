"""Host down: heartbeat from arrival time (hosts.last_seen) and points; a backfill replayed
from an agent's spool must not fire, clear and re-fire a stale alert."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts.clock import to_ns
from fleetmon_alerts.evaluate import Evaluator
from fleetmon_db.models import Host
from fleetmon_db.timeseries import Point, TimeSeriesStore
from tests.alerts.helpers import add_channel, add_host, add_rule, events, notifications
from tests.support.clock import FakeClock

DOWN = {
    "name": "Host down",
    "kind": "host_down",
    "window_s": 120,
    "for_s": 0,
    "severity": "critical",
}


def touch(sessions: sessionmaker[Session], name: str, clock: FakeClock) -> None:
    """What the API does on every accepted batch: stamp server time."""
    with sessions() as s:
        host = s.query(Host).filter_by(name=name).one()
        host.last_seen = clock.now()
        s.commit()


def uptime(store: TimeSeriesStore, host: str, at_ns: list[int]) -> None:
    store.write([Point(host, "system", t, {}, {"uptime": 1000 + i}) for i, t in enumerate(at_ns)])


def test_down_after_window_and_back_up_once_during_backfill(
    sessions: sessionmaker[Session], sqlite_store: TimeSeriesStore, clock: FakeClock
) -> None:
    start = clock.now()
    add_host(sessions, "h", last_seen=start)
    add_host(sessions, "never")  # enrolled, never reported: not "down"
    add_rule(sessions, **DOWN)
    add_channel(sessions, "log", "log", {})
    ev = Evaluator(sessions, sqlite_store, clock)
    clock.advance(119)
    assert ev.run_once() == []
    clock.advance(1)
    assert [(d.host, d.to_status) for d in ev.run_once()] == [("h", "firing")]
    # 10 minutes of outage, then the agent reconnects and replays its spool oldest first,
    # in large merged requests, while evaluations keep running.
    clock.advance(600)
    outage_start = to_ns(start)
    for batch in range(5):
        chunk = [outage_start + (batch * 144 + s) * 1_000_000_000 for s in range(0, 144, 10)]
        uptime(sqlite_store, "h", chunk)  # old timestamps
        touch(sessions, "h", clock)  # but it arrived now
        ev.run_once()
        clock.advance(15)
    for _ in range(10):  # then steady fresh data
        uptime(sqlite_store, "h", [to_ns(clock.now())])
        touch(sessions, "h", clock)
        ev.run_once()
        clock.advance(15)
    assert events(sessions) == [("h", "inactive", "firing"), ("h", "firing", "resolved")]
    assert [n.payload["status"] for n in notifications(sessions)] == ["firing", "resolved"]


def test_point_heartbeat_ignores_replayed_old_points(
    sessions: sessionmaker[Session], store: TimeSeriesStore, clock: FakeClock
) -> None:
    # Hosts that push without the API stamping last_seen (e.g. line protocol relays) are
    # judged by their newest point: replayed points from the outage are older than the
    # window, so they keep the alert firing instead of clearing it and firing it again.
    start = clock.now()
    add_host(sessions, "h")
    add_rule(sessions, **{**DOWN, "metric": "system.uptime"})
    uptime(store, "h", [to_ns(start)])
    ev = Evaluator(sessions, store, clock)
    assert ev.run_once() == []
    clock.advance(130)
    assert [d.to_status for d in ev.run_once()] == ["firing"]
    clock.advance(600)
    for batch in range(4):
        old = clock.now() - timedelta(seconds=700 - batch * 120)
        uptime(store, "h", [to_ns(old + timedelta(seconds=s)) for s in range(0, 120, 10)])
        assert ev.run_once() == []
        clock.advance(5)
    uptime(store, "h", [to_ns(clock.now())])
    assert [d.to_status for d in ev.run_once()] == ["resolved"]
    assert events(sessions) == [("h", "inactive", "firing"), ("h", "firing", "resolved")]
