"""Discord webhook: one embed per notification, coloured by severity."""

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

COLOURS: dict[str, int] = {
    Severity.CRITICAL: 0xD32F2F,
    Severity.WARNING: 0xF57C00,
    Severity.INFO: 0x1976D2,
}
RESOLVED_COLOUR = 0x388E3C


def message(payload: Payload) -> dict[str, Any]:
    """The Discord webhook body."""
    resolved = payload["status"] == "resolved"
    fields = [
        {"name": "Severity", "value": str(payload["severity"]), "inline": True},
        {"name": "Host", "value": str(payload["host"]), "inline": True},
        {"name": "Value", "value": value_text(payload), "inline": False},
        {"name": "Since", "value": str(payload.get("since")), "inline": False},
    ]
    embed = {
        "title": headline(payload)[:256],
        "url": payload["host_url"],
        "description": str(payload.get("annotations", {}).get("summary", ""))[:4000],
        "color": RESOLVED_COLOUR if resolved else COLOURS.get(str(payload["severity"]), 0x607D8B),
        "fields": fields,
        "timestamp": payload["at"],
    }
    return {"username": "fleetmon", "content": headline(payload)[:2000], "embeds": [embed]}


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
