"""Prometheus Alertmanager: POST /api/v2/alerts, so its routing, inhibition and receivers apply."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fleetmon_alerts import escape
from fleetmon_alerts.channels.base import ChannelContext, HttpChannel, Payload, post, require


def alerts(payload: Payload, repeat_interval_s: int) -> list[dict[str, Any]]:
    """The Alertmanager v2 alert list for one notification.

    Names are made valid label names (one bad name makes Alertmanager refuse the alert);
    values are plain text without control characters: Alertmanager's receivers splice
    them into their own templates."""
    labels = {
        **{
            escape.label_name(k): escape.label_value(v)
            for k, v in (payload.get("labels") or {}).items()
        },
        "alertname": escape.label_value(payload["rule"]),
        "host": escape.label_value(payload["host"]),
        "severity": escape.label_value(payload["severity"]),
    }
    annotations = {
        escape.label_name(k): escape.label_value(v, lines=True)
        for k, v in (payload.get("annotations") or {}).items()
    }
    annotations.setdefault("value", str(payload.get("value")))
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": payload["since"],
        "generatorURL": payload["host_url"],
    }
    if payload["status"] == "resolved":
        alert["endsAt"] = payload.get("ended_at") or payload["at"]
    else:
        # Alertmanager resolves alerts that are not re-sent before endsAt; we re-send every
        # repeat interval, so keep the alert alive for a few of those.
        at = datetime.fromisoformat(str(payload["at"]))
        alert["endsAt"] = (at + timedelta(seconds=max(3 * repeat_interval_s, 300))).isoformat()
    return [alert]


class AlertmanagerChannel(HttpChannel):
    """Pushes alerts to one Alertmanager."""

    def __init__(self, config: Mapping[str, Any], ctx: ChannelContext) -> None:
        super().__init__(ctx)
        self.url = require(config, "url").rstrip("/") + "/api/v2/alerts"

    def send(self, payload: Payload) -> None:
        """POST the alert."""
        post(self.client, self.url, json=alerts(payload, self.ctx.repeat_interval_s))


def create(config: Mapping[str, Any], ctx: ChannelContext) -> AlertmanagerChannel:
    """Build the channel."""
    return AlertmanagerChannel(config, ctx)
