"""Answers the API's notification preview requests (rows of `notification_previews`).

The API records what to preview (channel, sample or actual alert, firing or resolved) and
waits; the leading worker renders it here with its own payload, targeting and channel code
(`payload`, `outbox.targets`, `preview.render`), so the preview is the message the worker
sends, and the API never imports the worker.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts import outbox
from fleetmon_alerts import payload as payloads
from fleetmon_alerts.clock import Clock
from fleetmon_alerts.preview import render
from fleetmon_db.alerting import AlertStatus, RuleKind
from fleetmon_db.models import AlertChannel, AlertRule, AlertState, NotificationPreview
from fleetmon_db.sample_alert import sample_payload
from fleetmon_db.timeseries import TimeSeriesStore

log = logging.getLogger(__name__)

# How long the sample alert has been firing: long enough to show how times read.
SAMPLE_FIRING_FOR = timedelta(minutes=35)
# Requests nobody came back for (the API gave up, or died) are deleted after this, by a
# sweep at most once per SWEEP (answering runs several times a second; deleting need not).
KEEP = timedelta(minutes=10)
SWEEP = timedelta(minutes=1)
# Requests answered per pass; the rest wait for the next pass (a fraction of a second).
BATCH = 20


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


class PreviewResponder:
    """Renders pending preview requests and stores the answers."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        store: TimeSeriesStore,
        clock: Clock,
        public_url: str,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self._swept_at: datetime | None = None

    def answer_pending(self) -> int:
        """Answer every request waiting (up to BATCH), drop stale ones; return how many."""
        now = self.clock.now()
        with self.sessions.begin() as session:
            if self._swept_at is None or now - self._swept_at >= SWEEP:
                session.execute(
                    delete(NotificationPreview).where(NotificationPreview.requested_at < now - KEEP)
                )
                self._swept_at = now
            pending = list(
                session.scalars(
                    select(NotificationPreview)
                    .where(NotificationPreview.answered_at.is_(None))
                    .order_by(NotificationPreview.id)
                    .limit(BATCH)
                )
            )
            for req in pending:
                try:
                    req.result = self._answer(session, req)
                except Exception as exc:  # one bad channel config must not stall the others
                    log.exception("notification preview %d failed", req.id)
                    # The exception's text may quote the channel's config (its secrets): the
                    # answer names only its type; the worker's log has the rest.
                    req.result = {
                        "error": f"the alert worker could not render it ({type(exc).__name__};"
                        " see the worker's log)",
                        "code": 500,
                    }
                req.answered_at = now
        return len(pending)

    def _answer(self, session: Session, req: NotificationPreview) -> dict[str, Any]:
        ch = session.get(AlertChannel, req.channel_id)
        if ch is None:  # deleted meanwhile (the row goes with it; this is for the race)
            return {"error": "no such channel", "code": 404}
        rule = None
        if req.rule_id is not None and req.host is not None:
            rule = session.get(AlertRule, req.rule_id)
            alert = session.scalars(
                select(AlertState).where(
                    AlertState.rule_id == req.rule_id, AlertState.host == req.host
                )
            ).first()
            if rule is None or alert is None:
                return {"error": f"no alert of rule {req.rule_id} on {req.host!r}", "code": 404}
            body = self._alert_payload(rule, alert, req.status)
        else:
            body = self._sample_payload(ch.name, req.status, req.requested_by)
        out = render(ch.kind, dict(ch.config or {}), body, ch.repeat_interval_s)
        reason = why_not(ch, rule, req.status)
        return {
            "title": out.title,
            "body": out.body,
            "format": out.format,
            "would_send": reason is None,
            "why_not": reason,
        }

    def _alert_payload(self, rule: AlertRule, alert: AlertState, want: str) -> dict[str, Any]:
        now = self.clock.now()
        procs = (
            payloads.top_processes(self.store, alert.host, now)
            if want == AlertStatus.FIRING.value and rule.kind != RuleKind.HOST_DOWN
            else None
        )
        body = payloads.build(
            rule=rule, state=alert, status=want, at=now, public_url=self.public_url,
            processes=procs,
        )  # fmt: skip
        if want == AlertStatus.RESOLVED.value and body["ended_at"] is None:
            body["ended_at"] = body["at"]  # still firing: as if it resolved now
        return body

    def _sample_payload(self, channel: str, want: str, by: str) -> dict[str, Any]:
        now = self.clock.now()
        body = sample_payload(channel, self.public_url, now, by)
        body["since"] = (now - SAMPLE_FIRING_FOR).isoformat()
        body["annotations"] = {"summary": f"Sample alert: what channel {channel} would send"}
        body["status"] = want
        body["ended_at"] = body["at"] if want == AlertStatus.RESOLVED.value else None
        return body
