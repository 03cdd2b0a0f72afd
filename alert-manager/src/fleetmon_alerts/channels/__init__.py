"""Notification channels: one module per kind listed in fleetmon_db.alerting.CHANNELS.

The module of kind `k` is `fleetmon_alerts.channels.k` and provides `create(config, ctx)`.
Every kind's module is imported when this package is, so a kind without one fails at
start-up, not at its first notification.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from fleetmon_alerts.channels.base import (
    Channel,
    ChannelContext,
    ConfigError,
    DeliveryError,
    Factory,
)
from fleetmon_db.alerting import CHANNELS, channel_spec


def _factory(kind: str) -> Factory:
    create: Factory = importlib.import_module(f"{__name__}.{kind}").create
    return create


REGISTRY: dict[str, Factory] = {kind: _factory(kind) for kind in CHANNELS}


def build(kind: str, config: Mapping[str, Any], ctx: ChannelContext) -> Channel:
    """Instantiate a channel of `kind`; ConfigError if the kind or its config is wrong."""
    try:
        channel_spec(kind).check(config)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return REGISTRY[kind](config, ctx)


__all__ = ["REGISTRY", "Channel", "ChannelContext", "ConfigError", "DeliveryError", "build"]
