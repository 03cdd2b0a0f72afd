"""What a channel would send for a notification, rendered by the channel's own code.

The API's notification preview calls `render`, so the preview is the message the worker
sends, built by the same functions; only what the channel keeps secret (webhook URLs,
tokens, an ntfy topic) is left out. One renderer per kind in fleetmon_db.alerting.CHANNELS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email import policy
from typing import Any

from fleetmon_alerts.channels import alertmanager, discord, email, log, ntfy, slack
from fleetmon_alerts.channels.base import Payload, headline

# Stands for a secret part of the request (an ntfy topic is the URL's path: a secret too).
HIDDEN = "<secret>"


@dataclass(frozen=True)
class Rendered:
    """A channel's message: `title` as its reader first sees it, `body` as sent."""

    title: str
    body: str
    # "json": the request body the channel posts; "text": a message or log line as shown.
    format: str


# The title is text as its reader sees it: the sinks' escaping (fleetmon_alerts.escape) undone
# the way the receiver shows it. Slack shows its three entities as the characters; Discord
# shows a backslash-escaped character as itself.
_SLACK_SHOWS = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
_DISCORD_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _as_slack_shows(text: str) -> str:
    for entity, char in _SLACK_SHOWS:
        text = text.replace(entity, char)
    return text


def _as_discord_shows(text: str) -> str:
    return _DISCORD_ESCAPE.sub(r"\1", text)


def _json(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False)


def _slack(config: Mapping[str, Any], payload: Payload, repeat_s: int) -> Rendered:
    doc = slack.blocks(payload)
    return Rendered(_as_slack_shows(str(doc["text"])), _json(doc), "json")


def _discord(config: Mapping[str, Any], payload: Payload, repeat_s: int) -> Rendered:
    doc = discord.message(payload)
    return Rendered(_as_discord_shows(str(doc["content"])), _json(doc), "json")


def _ntfy(config: Mapping[str, Any], payload: Payload, repeat_s: int) -> Rendered:
    doc = ntfy.message(payload, HIDDEN)
    return Rendered(str(doc["title"]), _json(doc), "json")


def _webhook(config: Mapping[str, Any], payload: Payload, repeat_s: int) -> Rendered:
    # The body the webhook posts (sent compact, signed when the channel has a secret).
    return Rendered(headline(payload), _json({"version": 1, **payload}), "json")


def _alertmanager(config: Mapping[str, Any], payload: Payload, repeat_s: int) -> Rendered:
    return Rendered(headline(payload), _json(alertmanager.alerts(payload, repeat_s)), "json")


def _email(config: Mapping[str, Any], payload: Payload, repeat_s: int) -> Rendered:
    to = config.get("to")
    recipients = [str(r) for r in ([to] if isinstance(to, str) else list(to or []))]
    msg = email.message(payload, str(config.get("from", "")), recipients)
    return Rendered(str(msg["Subject"]), msg.as_string(policy=policy.default), "text")


def _log(config: Mapping[str, Any], payload: Payload, repeat_s: int) -> Rendered:
    text = log.line(payload)
    return Rendered(text, text, "text")


Renderer = Callable[[Mapping[str, Any], Payload, int], Rendered]

RENDERERS: dict[str, Renderer] = {
    "log": _log,
    "slack": _slack,
    "discord": _discord,
    "webhook": _webhook,
    "alertmanager": _alertmanager,
    "ntfy": _ntfy,
    "email": _email,
}


def render(kind: str, config: Mapping[str, Any], payload: Payload, repeat_s: int) -> Rendered:
    """The message a channel of `kind` with `config` sends for `payload`."""
    return RENDERERS[kind](config, payload, repeat_s)
