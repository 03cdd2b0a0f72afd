"""The channel contract: build from a config, `send(payload)`, raise DeliveryError to retry."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from fleetmon_db.text import printable

Payload = Mapping[str, Any]


class DeliveryError(Exception):
    """Delivery failed; `retry_after` (seconds) when the receiver said when to come back.

    Messages never contain the target URL or credentials: they end up in the database."""

    def __init__(self, message: str, retry_after: float | None = None, permanent: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class ConfigError(ValueError):
    """A channel's config is missing a key or has a bad value."""


@dataclass(frozen=True)
class ChannelContext:
    """What every channel may need besides its own config."""

    timeout_s: float = 10.0
    repeat_interval_s: int = 4 * 3600


class Channel(Protocol):
    """One configured destination."""

    # Minimum seconds between two messages (Slack and Discord webhooks: 1 per second).
    min_interval_s: float

    def send(self, payload: Payload) -> None:
        """Deliver one notification or raise DeliveryError."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


Factory = Callable[[Mapping[str, Any], ChannelContext], Channel]


def require(config: Mapping[str, Any], key: str) -> str:
    """A required, non-empty string setting."""
    value = config.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"channel config needs a non-empty {key!r}")
    return value


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), if any."""
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(raw)
        return max(parsed.timestamp() - time.time(), 0.0)


def post(client: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
    """POST and turn every failure into a DeliveryError that names no URL."""
    try:
        response = client.post(url, **kwargs)
    except httpx.TimeoutException:
        raise DeliveryError("timed out") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"connection failed: {type(exc).__name__}") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise DeliveryError(f"HTTP {response.status_code}", retry_after=retry_after(response))
    if response.status_code >= 400:
        # 4xx other than 429: the request itself is wrong; retrying will not help.
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}", permanent=True)
    return response


class HttpChannel:
    """Shared plumbing of the webhook-style channels: one pooled client with a timeout."""

    min_interval_s = 0.0

    def __init__(self, ctx: ChannelContext) -> None:
        self.ctx = ctx
        self.client = httpx.Client(timeout=ctx.timeout_s, follow_redirects=False)

    def close(self) -> None:
        """Release connections."""
        self.client.close()


def headline(payload: Payload) -> str:
    """'[FIRING] CPU high on web-1' — shared by the text channels; one line, no controls
    (each channel still escapes it for its own markup)."""
    status = "RESOLVED" if payload["status"] == "resolved" else "FIRING"
    return printable(f"[{status}] {payload['rule']} on {payload['host']}")


def value_text(payload: Payload) -> str:
    """'97.20 (threshold > 95)' or the host-down wording."""
    value = payload.get("value")
    shown = "n/a" if value is None else f"{float(value):.2f}"
    if payload.get("kind") == "host_down":
        return f"no data for {shown} s (limit {payload.get('window_s')} s)"
    return f"{shown} ({payload.get('comparison')} {payload.get('threshold'):g})"
