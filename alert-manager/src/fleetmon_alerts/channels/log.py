"""The log channel: a line in the worker's log per notification (embedded mode default)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fleetmon_alerts import humantime
from fleetmon_alerts.channels.base import ChannelContext, Payload, headline, value_text

logger = logging.getLogger("fleetmon_alerts.notify")


def line(payload: Payload) -> str:
    """The log line of one notification."""
    return (
        f"{headline(payload)}: {value_text(payload)} severity={payload.get('severity')}"
        f" {humantime.since_label(payload).lower()} {humantime.since_text(payload)}"
        f" {payload.get('host_url')}"
    )


class LogChannel:
    """Writes notifications to the `fleetmon_alerts.notify` logger."""

    min_interval_s = 0.0

    def __init__(self, config: Mapping[str, Any], ctx: ChannelContext) -> None:
        self.level = logging.getLevelName(str(config.get("level", "WARNING")).upper())
        if not isinstance(self.level, int):
            self.level = logging.WARNING

    def send(self, payload: Payload) -> None:
        """Log one line."""
        logger.log(self.level, "%s", line(payload))

    def close(self) -> None:
        """Nothing to release."""


def create(config: Mapping[str, Any], ctx: ChannelContext) -> LogChannel:
    """Build the channel."""
    return LogChannel(config, ctx)
