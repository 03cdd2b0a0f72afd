"""The state machine with an injected clock: for, keep_firing_for, resolve, flapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleetmon_alerts.state import Snapshot, Transition, step
from fleetmon_db.alerting import AlertStatus as S

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(series: list[tuple[float, bool]], for_s: float, kff: float = 0) -> list[tuple[float, S]]:
    """Feed (time, active) pairs; return (time, new status) for every transition."""
    snap = Snapshot()
    out = []
    for t, active in series:
        snap, tr = step(snap, active, at(t), for_s, kff)
        if tr:
            out.append((t, tr.to_status))
    return out


def test_pending_then_firing_exactly_at_for() -> None:
    snap, tr = step(Snapshot(), True, at(0), 300, 0)
    assert tr == Transition(S.INACTIVE, S.PENDING)
    assert snap.pending_since == at(0)
    snap, tr = step(snap, True, at(299.999), 300, 0)
    assert tr is None
    assert snap.status == S.PENDING
    snap, tr = step(snap, True, at(300), 300, 0)
    assert tr == Transition(S.PENDING, S.FIRING)
    assert snap.firing_since == at(300)


def test_for_zero_fires_at_once() -> None:
    snap, tr = step(Snapshot(), True, at(0), 0, 0)
    assert tr == Transition(S.INACTIVE, S.FIRING)
    assert snap.firing_since == at(0)


def test_pending_that_clears_goes_back_to_inactive() -> None:
    assert run([(0, True), (15, True), (30, False), (45, True)], for_s=60) == [
        (0, S.PENDING),
        (30, S.INACTIVE),
        (45, S.PENDING),
    ]


def test_resolve_and_fire_again() -> None:
    assert run([(0, True), (15, False), (30, False), (45, True)], for_s=0) == [
        (0, S.FIRING),
        (15, S.RESOLVED),
        (45, S.FIRING),
    ]


def test_flapping_series_is_held_by_keep_firing_for() -> None:
    # True/false every 15 s for 5 minutes: without keep_firing_for it resolves and re-fires
    # on every flap; with keep_firing_for=60 it fires once and resolves once, 60 s after
    # the flapping ends.
    flapping = [(t * 15.0, t % 2 == 0) for t in range(20)]
    tail = [(300.0 + t * 15.0, False) for t in range(8)]
    noisy = run(flapping + tail, for_s=0, kff=0)
    assert len([s for _, s in noisy if s == S.FIRING]) == 10
    calm = run(flapping + tail, for_s=0, kff=60)
    # Last active sample at t=270, first inactive at 285 -> keep until 345 -> resolved at 345.
    assert calm == [(0, S.FIRING), (345.0, S.RESOLVED)]


def test_keep_firing_until_is_cleared_when_condition_returns() -> None:
    snap, _ = step(Snapshot(), True, at(0), 0, 60)
    snap, tr = step(snap, False, at(10), 0, 60)
    assert tr is None
    assert snap.keep_firing_until == at(70)
    snap, tr = step(snap, True, at(20), 0, 60)
    assert tr is None
    assert snap.keep_firing_until is None
    snap, tr = step(snap, False, at(30), 0, 60)
    assert snap.keep_firing_until == at(90)
    snap, tr = step(snap, False, at(89), 0, 60)
    assert tr is None
    snap, tr = step(snap, False, at(90), 0, 60)
    assert tr == Transition(S.FIRING, S.RESOLVED)
    assert snap.resolved_at == at(90)
