"""Notification channels, one module each, in one explicit registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleetmon_alerts.channels import alertmanager, discord, email, log, slack, webhook
from fleetmon_alerts.channels.base import (
    Channel,
    ChannelContext,
    ConfigError,
    DeliveryError,
    Factory,
)

REGISTRY: dict[str, Factory] = {
    log.KIND: log.create,
    slack.KIND: slack.create,
    email.KIND: email.create,
    discord.KIND: discord.create,
    webhook.KIND: webhook.create,
    alertmanager.KIND: alertmanager.create,
}


def build(kind: str, config: Mapping[str, Any], ctx: ChannelContext) -> Channel:
    """Instantiate a channel of `kind`; ConfigError if the kind or its config is wrong."""
    factory = REGISTRY.get(kind)
    if factory is None:
        raise ConfigError(f"unknown channel kind {kind!r}; known: {', '.join(sorted(REGISTRY))}")
    return factory(config, ctx)


__all__ = ["REGISTRY", "Channel", "ChannelContext", "ConfigError", "DeliveryError", "build"]
