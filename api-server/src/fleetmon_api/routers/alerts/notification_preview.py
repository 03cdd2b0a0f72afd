"""Notification preview: what a channel would send, for a sample or an actual alert.

Rendered with the alert worker's own code (fleetmon_alerts.payload builds the payload,
fleetmon_alerts.preview runs the channel's message functions), so the preview is the message,
not a description of it. Nothing is sent and nothing is stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from fleetmon_alerts import outbox
from fleetmon_alerts import payload as payloads
from fleetmon_alerts.preview import render
from fleetmon_api.deps import AdminUser, AppSettings, DbSession, State
from fleetmon_api.routers.alerts.common import Id, make_router
from fleetmon_db.alerting import AlertStatus, RuleKind
from fleetmon_db.models import AlertChannel, AlertRule, AlertState
from fleetmon_db.sample_alert import sample_payload

router = make_router()

# How long the sample alert has been firing: long enough to show how times read.
SAMPLE_FIRING_FOR = timedelta(minutes=35)


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


def why_not(ch: AlertChannel, rule: AlertRule | None, alert_status: str) -> str | None:
    """Why the worker would not send this notification to `ch` (None: it would).

    The decision is the worker's (`outbox.targets`); this only puts it in words.
    """
    if not ch.enabled:
        return "the channel is disabled"
    if rule is not None and not outbox.targets(rule, [ch]):
        if rule.channels and ch.name not in rule.channels:
            return f"rule {rule.name!r} notifies only: {', '.join(rule.channels)}"
        return f"severity {rule.severity} is below the channel's minimum ({ch.min_severity})"
    if alert_status == AlertStatus.RESOLVED.value and not ch.send_resolved:
        return "the channel does not take resolved notifications"
    return None


def _alert_payload(
    request: Request, state: State, db: DbSession, settings: AppSettings, rule_id: int, host: str,
    want: str,
) -> dict[str, Any]:  # fmt: skip
    rule = db.get(AlertRule, rule_id)
    alert = db.scalars(
        select(AlertState).where(AlertState.rule_id == rule_id, AlertState.host == host)
    ).first()
    if rule is None or alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert of rule {rule_id} on {host!r}")
    now = state.clock()
    procs = (
        payloads.top_processes(state.store, host, now)
        if want == AlertStatus.FIRING.value and rule.kind != RuleKind.HOST_DOWN
        else None
    )
    body = payloads.build(
        rule=rule,
        state=alert,
        status=want,
        at=now,
        public_url=(settings.public_url or str(request.base_url)).rstrip("/"),
        processes=procs,
    )
    if want == AlertStatus.RESOLVED.value and body["ended_at"] is None:
        body["ended_at"] = body["at"]  # still firing: as if it resolved now
    return body


@router.get(
    "/channels/{channel_id}/preview",
    response_model=NotificationPreviewOut,
    responses={404: {"description": "No such channel, or no such alert"}},
)
def preview_notification(
    channel_id: Id,
    request: Request,
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
    `host` as it stands; secrets the channel keeps (URLs, tokens) are not shown."""
    ch = db.get(AlertChannel, channel_id)
    if ch is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such channel")
    if (rule_id is None) != (host is None):
        raise HTTPException(422, "rule_id and host go together (an alert is a rule on a host)")
    rule = None
    if rule_id is not None and host is not None:
        body = _alert_payload(request, state, db, settings, rule_id, host, alert_status)
        rule = db.get(AlertRule, rule_id)
    else:
        now = state.clock()
        public_url = settings.public_url or str(request.base_url)
        body = sample_payload(ch.name, public_url, now, admin.username)
        body["since"] = (now - SAMPLE_FIRING_FOR).isoformat()
        body["annotations"] = {"summary": f"Sample alert: what channel {ch.name} would send"}
        body["status"] = alert_status
        body["ended_at"] = body["at"] if alert_status == "resolved" else None
    out = render(ch.kind, dict(ch.config or {}), body, ch.repeat_interval_s)
    reason = why_not(ch, rule, alert_status)
    return NotificationPreviewOut(
        channel_id=ch.id,
        kind=ch.kind,
        source="sample" if rule_id is None else "alert",
        status=alert_status,
        title=out.title,
        format="json" if out.format == "json" else "text",
        body=out.body,
        would_send=reason is None,
        why_not=reason,
    )
