"""The outbox: notifications are rows written in the same transaction as the state change
that caused them, so a crash can neither lose one nor (short of dying mid-send) repeat one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleetmon_db.alerting import AlertStatus, NotificationStatus, severity_rank
from fleetmon_db.models import AlertChannel, AlertEvent, AlertNotification, AlertRule, AlertState

PENDING, SENT, FAILED = (
    NotificationStatus.PENDING.value,
    NotificationStatus.SENT.value,
    NotificationStatus.FAILED.value,
)


def targets(rule: AlertRule, channels: Sequence[AlertChannel]) -> list[AlertChannel]:
    """Enabled channels the rule names (all when it names none) that take its severity."""
    wanted = set(rule.channels or [])
    return [
        ch
        for ch in channels
        if ch.enabled
        and (not wanted or ch.name in wanted)
        and severity_rank(rule.severity) >= severity_rank(ch.min_severity)
    ]


def notified_channels(session: Session, fingerprint: str, since: datetime) -> dict[int, datetime]:
    """Channel id -> time of the latest notification enqueued for this alert since `since`."""
    stmt = (
        select(AlertNotification.channel_id, AlertEvent.at)
        .join(AlertEvent, AlertEvent.id == AlertNotification.event_id)
        .where(
            AlertEvent.fingerprint == fingerprint,
            AlertEvent.at >= since,
            AlertEvent.to_status == AlertStatus.FIRING.value,
        )
    )
    latest: dict[int, datetime] = {}
    for channel_id, at in session.execute(stmt):
        if channel_id not in latest or latest[channel_id] < at:
            latest[channel_id] = at
    return latest


def enqueue(
    session: Session,
    event: AlertEvent,
    channels: Sequence[AlertChannel],
    payload: dict[str, Any],
    now: datetime,
) -> int:
    """Add one outbox row per channel for `event` (already flushed); return how many."""
    for ch in channels:
        session.add(
            AlertNotification(
                event_id=event.id, channel_id=ch.id, payload=payload, next_attempt_at=now
            )
        )
    return len(channels)


def due(session: Session, now: datetime, limit: int = 500) -> list[AlertNotification]:
    """Pending rows whose next attempt is due, oldest first."""
    stmt = (
        select(AlertNotification)
        .where(AlertNotification.status == PENDING, AlertNotification.next_attempt_at <= now)
        .order_by(AlertNotification.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def repeat_candidates(session: Session, now: datetime, min_repeat_s: int) -> list[AlertState]:
    """Firing alerts not notified for at least the shortest repeat interval (or never)."""
    cutoff = now - timedelta(seconds=min_repeat_s)
    stmt = select(AlertState).where(
        AlertState.status == AlertStatus.FIRING.value,
        (AlertState.last_notified_at.is_(None)) | (AlertState.last_notified_at <= cutoff),
    )
    return list(session.scalars(stmt))


def pending_count(session: Session) -> int:
    """Rows still to deliver, due or not."""
    stmt = select(func.count()).where(AlertNotification.status == PENDING)
    return int(session.scalar(stmt) or 0)
