"""Discord webhook: one embed per notification, coloured by severity."""

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

COLOURS: dict[str, int] = {
    Severity.CRITICAL: 0xD32F2F,
    Severity.WARNING: 0xF57C00,
    Severity.INFO: 0x1976D2,
}
RESOLVED_COLOUR = 0x388E3C


def message(payload: Payload) -> dict[str, Any]:
    """The Discord webhook body; every value escaped for Discord markdown."""
    resolved = payload["status"] == "resolved"
    fields = [
        {"name": "Severity", "value": escape.discord(payload["severity"]), "inline": True},
        {"name": "Host", "value": escape.discord(payload["host"], 1024), "inline": True},
        {
            "name": printable(humantime.value_label(payload)),
            "value": escape.discord(value_text(payload)),
            "inline": False,
        },
        {
            "name": printable(humantime.since_label(payload)),
            "value": escape.discord(humantime.since_text(payload)),
            "inline": False,
        },
    ]
    summary = payload.get("annotations", {}).get("summary", "")
    embed = {
        "title": printable(headline(payload))[:256],  # titles are shown as plain text
        "url": payload["host_url"],
        "description": escape.discord(summary, 4000, lines=True),
        "color": RESOLVED_COLOUR if resolved else COLOURS.get(str(payload["severity"]), 0x607D8B),
        "fields": fields,
        "timestamp": payload["at"],
    }
    return {
        "username": "fleetmon",
        "content": escape.discord(headline(payload), 2000),
        "embeds": [embed],
        # No @everyone, @here, role or user pings, whatever a name or a label contains.
        "allowed_mentions": {"parse": []},
    }


class DiscordChannel(HttpChannel):
    """Posts embeds to one Discord webhook."""

    min_interval_s = 1.0

    def __init__(self, config: Mapping[str, Any], ctx: ChannelContext) -> None:
        super().__init__(ctx)
        self.url = require(config, "webhook_url")

    def send(self, payload: Payload) -> None:
        """POST the embed (Discord answers 204)."""
        post(self.client, self.url, json=message(payload))


def create(config: Mapping[str, Any], ctx: ChannelContext) -> DiscordChannel:
    """Build the channel."""
    return DiscordChannel(config, ctx)
