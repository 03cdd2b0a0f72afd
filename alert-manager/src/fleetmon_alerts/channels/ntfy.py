"""ntfy (ntfy.sh or self-hosted): push notifications to phones and desktops, published as JSON.

Config: `url` is the topic URL as the ntfy apps show it (`https://ntfy.sh/<topic>`; the topic
is the secret on a public server), `token` an optional access token (`tk_...`) for protected
topics. ntfy takes JSON only at its root URL, with the topic in the body
(https://docs.ntfy.sh/publish/#publish-as-json).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fleetmon_alerts import humantime
from fleetmon_alerts.channels.base import (
    ChannelContext,
    ConfigError,
    HttpChannel,
    Payload,
    headline,
    post,
    require,
    value_text,
)
from fleetmon_db.alerting import Severity
from fleetmon_db.text import printable

# ntfy's own topic rule; a token goes into a header, so visible ASCII only.
TOPIC_RE = re.compile(r"[-_A-Za-z0-9]{1,64}")
TOKEN_RE = re.compile(r"[!-~]{1,256}")
# ntfy turns a longer message into an attachment; stay a notification.
MAX_MESSAGE_BYTES = 4096
# 1 min .. 5 max; resolved alerts are low: good news need not wake anyone.
PRIORITY: dict[str, int] = {Severity.INFO: 3, Severity.WARNING: 4, Severity.CRITICAL: 5}
RESOLVED_PRIORITY = 2
# Tags that are ntfy emoji short codes show as an emoji before the title.
EMOJI: dict[str, str] = {
    Severity.INFO: "information_source",
    Severity.WARNING: "warning",
    Severity.CRITICAL: "rotating_light",
}
RESOLVED_EMOJI = "white_check_mark"


def split_topic_url(url: str) -> tuple[str, str]:
    """'https://ntfy.sh/alerts' -> ('https://ntfy.sh/', 'alerts'); ConfigError otherwise."""
    root, _, topic = url.rstrip("/").rpartition("/")
    if "://" not in root or not TOPIC_RE.fullmatch(topic):
        raise ConfigError("ntfy url must be a topic URL, e.g. https://ntfy.sh/<topic>")
    return root + "/", topic


def _truncate(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "..."


def message(payload: Payload, topic: str) -> dict[str, Any]:
    """The ntfy JSON publish body for one notification."""
    resolved = payload["status"] == "resolved"
    severity = str(payload["severity"])
    lines = [
        f"{humantime.value_label(payload)}: {value_text(payload)}",
        f"Severity: {severity}",
        f"{humantime.since_label(payload)}: {humantime.since_text(payload)}",
    ]
    summary = (payload.get("annotations") or {}).get("summary")
    if summary:
        lines += ["", printable(summary, keep_newlines=True)]  # sent as plain text
    return {
        "topic": topic,
        "title": headline(payload)[:250],
        "message": _truncate("\n".join(lines), MAX_MESSAGE_BYTES),
        "priority": RESOLVED_PRIORITY if resolved else PRIORITY.get(severity, 3),
        "tags": [RESOLVED_EMOJI if resolved else EMOJI.get(severity, "bell")],
        "click": payload["host_url"],
        "actions": [{"action": "view", "label": "Open host", "url": payload["host_url"]}],
    }


class NtfyChannel(HttpChannel):
    """Publishes to one ntfy topic."""

    def __init__(self, config: Mapping[str, Any], ctx: ChannelContext) -> None:
        super().__init__(ctx)
        self.url, self.topic = split_topic_url(require(config, "url"))
        token = config.get("token")
        if token is not None and not (isinstance(token, str) and TOKEN_RE.fullmatch(token)):
            raise ConfigError("ntfy token must be an access token such as tk_...")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def send(self, payload: Payload) -> None:
        """POST the message to the server's root URL."""
        post(self.client, self.url, json=message(payload, self.topic), headers=self.headers)


def create(config: Mapping[str, Any], ctx: ChannelContext) -> NtfyChannel:
    """Build the channel."""
    return NtfyChannel(config, ctx)
