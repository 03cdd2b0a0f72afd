"""Generic webhook: the payload as JSON, optionally signed with HMAC-SHA256.

Signature: header `X-Fleetmon-Signature: sha256=<hex>` over `<timestamp>.<body>`, the
timestamp in `X-Fleetmon-Timestamp` (seconds) so receivers can refuse replays."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from fleetmon_alerts.channels.base import ChannelContext, HttpChannel, Payload, post, require


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookChannel(HttpChannel):
    """POSTs `{"version": 1, ...payload}` to a URL."""

    def __init__(self, config: Mapping[str, Any], ctx: ChannelContext) -> None:
        super().__init__(ctx)
        self.url = require(config, "url")
        secret = config.get("secret")
        self.secret = secret if isinstance(secret, str) and secret else None

    def send(self, payload: Payload) -> None:
        """POST the signed JSON body."""
        body = json.dumps({"version": 1, **payload}, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "fleetmon-alerts"}
        if self.secret:
            ts = str(int(time.time()))
            headers["X-Fleetmon-Timestamp"] = ts
            headers["X-Fleetmon-Signature"] = signature(self.secret, ts, body)
        post(self.client, self.url, content=body, headers=headers)


def create(config: Mapping[str, Any], ctx: ChannelContext) -> WebhookChannel:
    """Build the channel."""
    return WebhookChannel(config, ctx)
