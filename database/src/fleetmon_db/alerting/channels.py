"""Notification channel kinds: the one registry the API validates against and the worker builds.

Each kind is one `ChannelSpec` line in `CHANNELS`; the worker sends through the module of
the same name in `fleetmon_alerts.channels` (see ADR 0003). The API accepts exactly these
kinds, checks the required keys and URLs, and shows back only the public keys: every other
config key (webhook URLs, tokens, passwords) is write-only. A replacement that changes where
a channel sends (its `destination` keys) drops the stored credentials it does not repeat,
so a changed URL or SMTP host never receives the old secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChannelSpec:
    """One channel kind: what it does, the config keys it needs and those safe to show."""

    kind: str
    doc: str
    required: tuple[str, ...] = ()
    public: tuple[str, ...] = ()
    # Keys that say where (and how openly) notifications and credentials go.
    destination: tuple[str, ...] = ("url",)

    def check(self, config: Mapping[str, Any]) -> None:
        """ValueError naming what is wrong with `config` for this kind."""
        missing = [k for k in self.required if not config.get(k)]
        if missing:
            raise ValueError(f"{self.kind} channel config needs: {', '.join(missing)}")
        for key, value in config.items():
            if is_url_key(key) and not (
                isinstance(value, str) and value.startswith(("http://", "https://"))
            ):
                raise ValueError(f"config.{key} must be an http(s) URL")

    def public_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The keys that may be shown back, with their values."""
        return {k: v for k, v in config.items() if k in self.public}

    def secret_keys(self, config: Mapping[str, Any]) -> list[str]:
        """The names of the write-only keys present in `config`."""
        return sorted(k for k in config if k not in self.public)

    def replace(self, stored: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
        """The config a replacement stores: keys left out keep their stored values, except
        that a changed destination drops every stored credential (a write-only key that is
        not a destination) the request does not give again."""
        moved = any(k in given and given[k] != stored.get(k) for k in self.destination)
        kept = {
            k: v
            for k, v in stored.items()
            if not (moved and k not in self.public and k not in self.destination)
        }
        return {**kept, **given}


def is_url_key(key: str) -> bool:
    """Keys named `url` or `*_url` hold an endpoint: only http(s) URLs are accepted."""
    return key == "url" or key.endswith("_url")


CHANNELS: dict[str, ChannelSpec] = {
    spec.kind: spec
    for spec in (
        ChannelSpec("log", "A line in the worker's log (embedded default).", public=("level",)),
        ChannelSpec(
            "slack",
            "Slack incoming webhook, Block Kit message.",
            ("webhook_url",),
            destination=("webhook_url",),
        ),
        ChannelSpec(
            "discord",
            "Discord webhook, one embed coloured by severity.",
            ("webhook_url",),
            destination=("webhook_url",),
        ),
        ChannelSpec("webhook", "JSON POST, HMAC-SHA256 signed with `secret` if set.", ("url",)),
        ChannelSpec("alertmanager", "Prometheus Alertmanager, POST /api/v2/alerts.", ("url",)),
        ChannelSpec("ntfy", "ntfy topic (phone push); `url` is the topic URL.", ("url",)),
        ChannelSpec(
            "email",
            "Email over SMTP (STARTTLS by default).",
            ("host", "from", "to"),
            public=("host", "port", "from", "to", "security", "ca_file"),
            # `security` too: switching to "none" would send the password in clear.
            destination=("host", "port", "security"),
        ),
    )
}


def channel_spec(kind: str) -> ChannelSpec:
    """The spec of `kind`; ValueError listing the known kinds otherwise."""
    spec = CHANNELS.get(kind)
    if spec is None:
        raise ValueError(f"unknown channel kind {kind!r}; known: {', '.join(sorted(CHANNELS))}")
    return spec
