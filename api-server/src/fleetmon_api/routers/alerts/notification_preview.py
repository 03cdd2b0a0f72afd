"""Notification preview: what a channel would send, for a sample or an actual alert.

The message is rendered by the alert worker with its own payload and channel code, so the
preview is the message, not a description of it; the API does not import the worker (the
dependency direction is api -> db <- alerts). It records the request in
`notification_previews`, the leading worker renders it within a fraction of a second, and
the API waits for that answer, bounded by `notification_preview_wait_s`. Nothing is sent.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fleetmon_api.deps import AdminUser, AppSettings, DbSession, State
from fleetmon_api.routers.alerts.common import Id, make_router
from fleetmon_db.models import AlertChannel, AlertState, NotificationPreview

router = make_router()

# How often the waiting request looks for the worker's answer.
POLL_S = 0.1

NO_WORKER = (
    "the alert worker did not answer within {wait:g} s: is `fleetmon-alerts run` running"
    " (and connected to this database)?"
)


class NotificationPreviewOut(BaseModel):
    """A channel's message for one notification, as the worker would send it."""

    channel_id: int
    kind: str
    source: Literal["sample", "alert"] = Field(
        description="a sample alert, or the stored state of the alert asked for"
    )
    status: Literal["firing", "resolved"]
    title: str = Field(description="what the reader sees first: subject, header, log line")
    format: Literal["json", "text"] = Field(
        description="json: the request body the channel posts; text: the message as shown"
    )
    body: str
    would_send: bool = Field(
        description="whether the worker would send this notification to this channel"
    )
    why_not: str | None = Field(
        description="when it would not: the reason, in words (a resolution also goes only to"
        " channels that were notified of the firing)"
    )


def _wait_for_answer(db: Session, request_id: int, wait_s: float) -> dict[str, object] | None:
    """The worker's answer to request `request_id`, or None when it did not come in time."""
    deadline = time.monotonic() + wait_s
    while True:
        # End the read transaction each time: SQLite would otherwise keep showing the
        # snapshot taken before the worker wrote its answer.
        db.rollback()
        result = db.scalar(
            select(NotificationPreview.result).where(
                NotificationPreview.id == request_id, NotificationPreview.answered_at.is_not(None)
            )
        )
        if result is not None:
            return dict(result)
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_S)


@router.get(
    "/channels/{channel_id}/preview",
    response_model=NotificationPreviewOut,
    responses={
        404: {"description": "No such channel, or no such alert"},
        503: {"description": "The alert worker did not answer in time"},
    },
)
def preview_notification(
    channel_id: Id,
    state: State,
    settings: AppSettings,
    db: DbSession,
    admin: AdminUser,
    rule_id: Annotated[int | None, Query(ge=1, description="with host: an actual alert")] = None,
    host: Annotated[str | None, Query(max_length=255)] = None,
    alert_status: Annotated[
        Literal["firing", "resolved"], Query(alias="status", description="which notification")
    ] = "firing",
) -> NotificationPreviewOut:
    """What this channel would send for a sample alert, or for the alert of `rule_id` on
    `host` as it stands, rendered by the alert worker; secrets the channel keeps (URLs,
    tokens) are not shown. 503 when no worker answers in time."""
    ch = db.get(AlertChannel, channel_id)
    if ch is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such channel")
    if (rule_id is None) != (host is None):
        raise HTTPException(422, "rule_id and host go together (an alert is a rule on a host)")
    if rule_id is not None and host is not None:
        alert = db.scalars(
            select(AlertState.id).where(AlertState.rule_id == rule_id, AlertState.host == host)
        ).first()
        if alert is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no alert of rule {rule_id} on {host!r}"
            )
    kind = ch.kind
    req = NotificationPreview(
        channel_id=ch.id,
        rule_id=rule_id,
        host=host,
        status=alert_status,
        requested_by=admin.username,
        requested_at=state.clock(),
    )
    db.add(req)
    db.commit()
    request_id = req.id
    try:
        answer = _wait_for_answer(db, request_id, settings.notification_preview_wait_s)
    finally:
        # Read once, or given up on: either way nobody needs the row any more.
        db.rollback()
        db.execute(delete(NotificationPreview).where(NotificationPreview.id == request_id))
        db.commit()
    if answer is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            NO_WORKER.format(wait=settings.notification_preview_wait_s),
            headers={"Retry-After": "5"},
        )
    if "error" in answer:
        raise HTTPException(int(str(answer.get("code", 500))), str(answer["error"]))
    return NotificationPreviewOut(
        channel_id=channel_id,
        kind=kind,
        source="sample" if rule_id is None else "alert",
        status=alert_status,
        title=str(answer["title"]),
        format="json" if answer["format"] == "json" else "text",
        body=str(answer["body"]),
        would_send=bool(answer["would_send"]),
        why_not=None if answer["why_not"] is None else str(answer["why_not"]),
    )
