"""Slack incoming webhook with a Block Kit message (severity, host, value vs threshold,
since when, link to the host page, top processes at firing time)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleetmon_alerts import escape, humantime
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
from fleetmon_db.text import printable

EMOJI: dict[str, str] = {
    Severity.CRITICAL: ":red_circle:",
    Severity.WARNING: ":large_orange_circle:",
    Severity.INFO: ":large_blue_circle:",
}
NAME_CHARS = 40  # of a process name in the top-processes block


def _mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object whose `text` is already escaped. `verbatim` stops Slack from
    turning bare names into mentions or channel links on its own."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _processes(title: str, rows: list[dict[str, Any]], unit: str) -> str:
    # Process names are chosen by whoever runs a process on the host: escaped, and no
    # backtick, so a name cannot close the code block and format the rest of the message.
    # Cut before escaping, so ten rows stay within a section's 3000 characters.
    lines = [
        f"{float(r['value']):6.1f}{unit}  {escape.mrkdwn_code(str(r['name'])[:NAME_CHARS])} "
        f"({escape.mrkdwn_code(str(r['pid'])[:12])})"
        for r in rows
    ]
    return f"*{title}*\n```" + "\n".join(lines) + "```"


def blocks(payload: Payload) -> dict[str, Any]:
    """The Slack message body for one notification; every value escaped for mrkdwn."""
    resolved = payload["status"] == "resolved"
    icon = ":white_check_mark:" if resolved else EMOJI.get(str(payload["severity"]), ":bell:")
    title = printable(f"{icon} {headline(payload)}")[:150]  # plain_text: no markup to escape
    host_link = f"<{escape.mrkdwn(payload['host_url'])}|{escape.mrkdwn(payload['host'])}>"
    fields = [
        _mrkdwn(f"*Severity*\n{escape.mrkdwn(payload['severity'])}"),
        _mrkdwn(f"*Host*\n{host_link}"),
        _mrkdwn(
            f"*{escape.mrkdwn(humantime.value_label(payload))}*\n"
            f"{escape.mrkdwn(value_text(payload))}"
        ),
        _mrkdwn(
            f"*{escape.mrkdwn(humantime.since_label(payload))}*\n"
            f"{escape.mrkdwn(humantime.since_text(payload))}"
        ),
    ]
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}},
        {"type": "section", "fields": fields},
    ]
    summary = payload.get("annotations", {}).get("summary")
    if summary:
        out.append({"type": "section", "text": _mrkdwn(escape.mrkdwn(summary, 2900, lines=True))})
    procs = payload.get("top_processes") or {}
    if not resolved and (procs.get("cpu") or procs.get("memory")):
        parts = []
        if procs.get("cpu"):
            parts.append(_processes("Top processes by CPU", procs["cpu"], "%"))
        if procs.get("memory"):
            parts.append(_processes("Top processes by memory", procs["memory"], "%"))
        out.append({"type": "section", "text": _mrkdwn("\n".join(parts))})
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
            "elements": [_mrkdwn(f"fleetmon · rule *{escape.mrkdwn(payload['rule'])}*")],
        }
    )
    # `text` is the notification fallback (mobile push, screen readers), mrkdwn as well.
    fallback = escape.mrkdwn(f"{headline(payload)}: {value_text(payload)}")
    return {"text": fallback, "blocks": out}


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
