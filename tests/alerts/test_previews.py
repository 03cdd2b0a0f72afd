"""The worker's side of the notification preview: it answers the requests the API records,
keeps one bad channel from stalling the rest, and sweeps requests nobody came back for."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts.previews import KEEP, SWEEP, PreviewResponder
from fleetmon_db.models import AlertChannel, AlertRule, NotificationPreview
from fleetmon_db.timeseries import TimeSeriesStore
from tests.support.clock import FakeClock


def _channel(db: Session, name: str, kind: str, config: dict[str, object]) -> int:
    ch = AlertChannel(name=name, kind=kind, config=config)
    db.add(ch)
    db.flush()
    return ch.id


def _request(db: Session, clock: FakeClock, channel_id: int, **over: object) -> int:
    req = NotificationPreview(
        channel_id=channel_id,
        status=over.pop("status", "firing"),
        requested_by="alice",
        requested_at=over.pop("requested_at", clock.now()),
        **over,
    )
    db.add(req)
    db.flush()
    return req.id


def _results(sessions: sessionmaker[Session]) -> dict[int, dict[str, object] | None]:
    with sessions() as db:
        return {r.id: r.result for r in db.scalars(select(NotificationPreview))}


def test_answers_each_request_and_one_failure_stays_its_own(
    sessions: sessionmaker[Session], sqlite_store: TimeSeriesStore, clock: FakeClock
) -> None:
    with sessions.begin() as db:
        log_id = _channel(db, "ops-log", "log", {})
        # A kind this worker has no renderer for (a newer API's, say), with a secret config.
        odd_id = _channel(db, "odd", "pager", {"token": "s3cr3t-token"})
        rule = AlertRule(name="mem hot", metric="mem.used_percent", threshold=80)
        db.add(rule)
        db.flush()
        sample = _request(db, clock, log_id, status="resolved")
        odd = _request(db, clock, odd_id)
        # The alert resolved and was forgotten between the API's check and the worker's pass.
        missing = _request(db, clock, log_id, rule_id=rule.id, host="web-01")
    responder = PreviewResponder(sessions, sqlite_store, clock, "https://fleet.example.test/")
    assert responder.answer_pending() == 3
    got = _results(sessions)
    answer = got[sample]
    assert answer is not None
    assert answer["format"] == "text"
    assert "[RESOLVED] Test notification" in str(answer["title"])
    assert (answer["would_send"], answer["why_not"]) == (True, None)
    assert "https://fleet.example.test/hosts/test-host" in str(answer["body"])
    failed = got[odd]
    assert failed is not None
    assert failed["code"] == 500
    assert "KeyError" in str(failed["error"])
    assert "s3cr3t" not in str(failed)
    assert got[missing] == {"error": f"no alert of rule {rule.id} on 'web-01'", "code": 404}
    assert responder.answer_pending() == 0  # answered once


def test_requests_nobody_came_back_for_are_swept(
    sessions: sessionmaker[Session], sqlite_store: TimeSeriesStore, clock: FakeClock
) -> None:
    responder = PreviewResponder(sessions, sqlite_store, clock, "http://fleet.test")
    with sessions.begin() as db:
        ch = _channel(db, "ops-log", "log", {})
        old = _request(db, clock, ch, requested_at=clock.now() - KEEP - timedelta(seconds=1))
        fresh = _request(db, clock, ch)
    responder.answer_pending()
    assert set(_results(sessions)) == {fresh}  # the old one swept, the fresh one answered
    # Sweeping runs at most once per SWEEP (answering runs several times a second).
    clock.advance(SWEEP.total_seconds() / 2)
    with sessions.begin() as db:
        stale = _request(db, clock, ch, requested_at=clock.now() - KEEP - timedelta(seconds=1))
    responder.answer_pending()
    assert set(_results(sessions)) == {fresh, stale}
    assert stale != old
    clock.advance(SWEEP.total_seconds() / 2)
    responder.answer_pending()
    assert set(_results(sessions)) == {fresh}
    clock.advance((KEEP - SWEEP).total_seconds() + 1)
    responder.answer_pending()
    assert _results(sessions) == {}
