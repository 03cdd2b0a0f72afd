"""What alerts are doing: active (pending and firing) alerts and the history of transitions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import select

from fleetmon_api.deps import DbSession, ViewerUser
from fleetmon_api.routers.alerts.common import MAX_ID, make_router, now
from fleetmon_api.timeparse import UtcDateTime
from fleetmon_db.alerting import AlertStatus, Severity, severity_rank
from fleetmon_db.models import AlertEvent, AlertRule, AlertState

router = make_router()


class ActiveAlert(BaseModel):
    """A pending or firing alert."""

    rule_id: int
    rule_name: str
    severity: str
    host: str
    status: str
    value: float | None
    pending_since: datetime | None
    firing_since: datetime | None
    labels: dict[str, Any]
    annotations: dict[str, Any]


class EventOut(BaseModel):
    """One state transition from the history."""

    id: int
    rule_id: int | None
    rule_name: str
    host: str
    severity: str
    from_status: str
    to_status: str
    value: float | None
    at: datetime
    details: dict[str, Any]


@router.get("/active", response_model=list[ActiveAlert])
def active_alerts(
    db: DbSession,
    _user: ViewerUser,
    host: Annotated[str | None, Query(max_length=253)] = None,
    severity: Severity | None = None,
    state: Literal[AlertStatus.PENDING, AlertStatus.FIRING] | None = None,
) -> list[ActiveAlert]:
    """Pending and firing alerts, most severe and oldest first."""
    wanted = [state] if state else [AlertStatus.PENDING, AlertStatus.FIRING]
    stmt = (
        select(AlertState, AlertRule)
        .join(AlertRule, AlertRule.id == AlertState.rule_id)
        .where(AlertState.status.in_([str(s) for s in wanted]))
    )
    if host:
        stmt = stmt.where(AlertState.host == host)
    if severity:
        stmt = stmt.where(AlertRule.severity == severity.value)
    at = now()
    rows = sorted(
        [(st, rule) for st, rule in db.execute(stmt)],
        key=lambda r: (
            r[0].status != AlertStatus.FIRING,
            -severity_rank(r[1].severity),
            r[0].firing_since or r[0].pending_since or at,
        ),
    )
    return [
        ActiveAlert(
            rule_id=rule.id,
            rule_name=rule.name,
            severity=rule.severity,
            host=st.host,
            status=st.status,
            value=st.value,
            pending_since=st.pending_since,
            firing_since=st.firing_since,
            labels=st.labels or {},
            annotations=st.annotations or {},
        )
        for st, rule in rows
    ]


@router.get("/history", response_model=list[EventOut])
def history(
    db: DbSession,
    _user: ViewerUser,
    rule_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    host: Annotated[str | None, Query(max_length=253)] = None,
    severity: Severity | None = None,
    to_status: AlertStatus | None = None,
    start: UtcDateTime | None = None,
    end: UtcDateTime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="page: events older than this")
    ] = None,
) -> list[EventOut]:
    """State transitions, newest first, filtered."""
    stmt = select(AlertEvent).order_by(AlertEvent.id.desc()).limit(limit)
    if rule_id is not None:
        stmt = stmt.where(AlertEvent.rule_id == rule_id)
    if host:
        stmt = stmt.where(AlertEvent.host == host)
    if severity:
        stmt = stmt.where(AlertEvent.severity == severity.value)
    if to_status:
        stmt = stmt.where(AlertEvent.to_status == to_status.value)
    if start:
        stmt = stmt.where(AlertEvent.at >= start)
    if end:
        stmt = stmt.where(AlertEvent.at < end)
    if before_id:
        stmt = stmt.where(AlertEvent.id < before_id)
    return [
        EventOut(
            id=e.id,
            rule_id=e.rule_id,
            rule_name=e.rule_name,
            host=e.host,
            severity=e.severity,
            from_status=e.from_status,
            to_status=e.to_status,
            value=e.value,
            at=e.at,
            details=e.details or {},
        )
        for e in db.scalars(stmt)
    ]
