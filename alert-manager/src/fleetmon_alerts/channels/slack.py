"""Slack incoming webhook with a Block Kit message (severity, host, value vs threshold,
since when, link to the host page, top processes at firing time)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleetmon_alerts.channels.base import (
    ChannelContext,
    HttpChannel,
    Payload,
    headline,
    post,
    require,
    value_text,
)
from fleetmon_db.alerting import Severity

EMOJI: dict[str, str] = {
    Severity.CRITICAL: ":red_circle:",
    Severity.WARNING: ":large_orange_circle:",
    Severity.INFO: ":large_blue_circle:",
}


def _processes(title: str, rows: list[dict[str, Any]], unit: str) -> str:
    lines = [f"{r['value']:6.1f}{unit}  {r['name']} ({r['pid']})" for r in rows]
    return f"*{title}*\n```" + "\n".join(lines) + "```"


def blocks(payload: Payload) -> dict[str, Any]:
    """The Slack message body for one notification."""
    resolved = payload["status"] == "resolved"
    icon = ":white_check_mark:" if resolved else EMOJI.get(str(payload["severity"]), ":bell:")
    title = f"{icon} {headline(payload)}"[:150]
    since = payload.get("ended_at") if resolved else payload.get("since")
    fields = [
        {"type": "mrkdwn", "text": f"*Severity*\n{payload['severity']}"},
        {"type": "mrkdwn", "text": f"*Host*\n<{payload['host_url']}|{payload['host']}>"},
        {"type": "mrkdwn", "text": f"*Value*\n{value_text(payload)}"},
        {"type": "mrkdwn", "text": f"*{'Resolved at' if resolved else 'Firing since'}*\n{since}"},
    ]
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}},
        {"type": "section", "fields": fields},
    ]
    summary = payload.get("annotations", {}).get("summary")
    if summary:
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": str(summary)[:2900]}})
    procs = payload.get("top_processes") or {}
    if not resolved and (procs.get("cpu") or procs.get("memory")):
        parts = []
        if procs.get("cpu"):
            parts.append(_processes("Top processes by CPU", procs["cpu"], "%"))
        if procs.get("memory"):
            parts.append(_processes("Top processes by memory", procs["memory"], "%"))
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(parts)[:2900]}})
    out.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open host"},
                    "url": payload["host_url"],
                }
            ],
        }
    )
    out.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"fleetmon · rule *{payload['rule']}*"}],
        }
    )
    # `text` is the notification fallback (mobile push, screen readers).
    return {"text": f"{headline(payload)}: {value_text(payload)}", "blocks": out}


class SlackChannel(HttpChannel):
    """Posts Block Kit messages to one incoming webhook."""

    min_interval_s = 1.0  # Slack allows about one message per second per webhook

    def __init__(self, config: Mapping[str, Any], ctx: ChannelContext) -> None:
        super().__init__(ctx)
        self.url = require(config, "webhook_url")

    def send(self, payload: Payload) -> None:
        """POST the message; a 429 raises DeliveryError carrying Retry-After."""
        post(self.client, self.url, json=blocks(payload))


def create(config: Mapping[str, Any], ctx: ChannelContext) -> SlackChannel:
    """Build the channel."""
    return SlackChannel(config, ctx)
