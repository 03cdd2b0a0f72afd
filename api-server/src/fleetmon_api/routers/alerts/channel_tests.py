"""Channel tests: a sample notification through the worker's real delivery path, and its outcome.

The API never sends notifications itself (channels live in the alert worker): a test is an
outbox row like any other, delivered by the leading worker with the same retries, pacing and
error reporting, so a passing test proves the path a real alert takes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import HTTPException, Request, status
from pydantic import BaseModel, Field

from fleetmon_api.deps import AdminUser, AppSettings, DbSession, State
from fleetmon_api.routers.alerts.common import Id, make_router
from fleetmon_db.alerting import NotificationStatus, Severity
from fleetmon_db.models import AlertChannel, AlertEvent, AlertNotification
from fleetmon_db.sample_alert import TEST_HOST, TEST_RULE, TEST_STATUS, sample_payload

router = make_router()


class NotificationOut(BaseModel):
    """One notification to one channel and what became of it."""

    id: int
    channel_id: int
    event_id: int
    status: NotificationStatus = Field(
        description="pending until the alert worker delivers it or gives up"
    )
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None = Field(description="the receiver's answer; never a URL or secret")


def _out(row: AlertNotification) -> NotificationOut:
    return NotificationOut(
        id=row.id,
        channel_id=row.channel_id,
        event_id=row.event_id,
        status=NotificationStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        last_error=row.last_error,
    )


@router.post(
    "/channels/{channel_id}/test",
    response_model=NotificationOut,
    status_code=202,
    responses={404: {"description": "No such channel"}},
)
def test_channel(
    channel_id: Id,
    request: Request,
    state: State,
    settings: AppSettings,
    db: DbSession,
    admin: AdminUser,
) -> NotificationOut:
    """Queue a sample notification to this channel; poll the answer's id for the outcome."""
    ch = db.get(AlertChannel, channel_id)
    if ch is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such channel")
    now = state.clock()
    public_url = settings.public_url or str(request.base_url)
    event = AlertEvent(
        rule_id=None,
        rule_name=TEST_RULE,
        fingerprint=f"test:{uuid.uuid4().hex}",
        host=TEST_HOST,
        severity=Severity.INFO.value,
        from_status=TEST_STATUS,
        to_status=TEST_STATUS,
        value=None,
        at=now,
        details={"test": True, "channel": ch.name, "by": admin.username},
    )
    db.add(event)
    db.flush()
    row = AlertNotification(
        event_id=event.id,
        channel_id=ch.id,
        payload=sample_payload(ch.name, public_url, now, admin.username),
        next_attempt_at=now,
    )
    db.add(row)
    db.commit()
    return _out(row)


@router.get(
    "/notifications/{notification_id}",
    response_model=NotificationOut,
    responses={404: {"description": "No such notification"}},
)
def get_notification(notification_id: Id, db: DbSession, _admin: AdminUser) -> NotificationOut:
    """Delivery state of one notification (a channel test's, or a real alert's)."""
    row = db.get(AlertNotification, notification_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such notification")
    return _out(row)
