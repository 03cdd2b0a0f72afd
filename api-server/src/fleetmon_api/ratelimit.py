"""Rate limits via slowapi's Limiter (memory:// or redis:// storage) as FastAPI dependencies."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from slowapi import Limiter

log = logging.getLogger(__name__)


class RateLimited(Exception):
    """A client went over a limit; answered 429 with Retry-After."""

    def __init__(self, limit: str, retry_after: int) -> None:
        super().__init__(limit)
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Rule:
    """One named limit (scope) and its rate."""

    scope: str
    item: RateLimitItem
    text: str


class RateLimiter:
    """Per-app limiter: slowapi holds the storage; each check hits one (scope, key) counter."""

    def __init__(self, storage_url: str, key_prefix: str, rules: dict[str, str]) -> None:
        self.limiter = Limiter(
            key_func=lambda: "", storage_uri=storage_url, strategy="fixed-window"
        )
        # Prepended to every counter key, so several deployments (or tests) share one Redis.
        self.key_prefix = key_prefix
        self.rules = {scope: Rule(scope, parse(text), text) for scope, text in rules.items()}
        # In-process counters: a check does no I/O and may run on the event loop.
        self.local = storage_url.startswith("memory://")

    def check(self, scope: str, key: str) -> None:
        """Count one request; raise RateLimited when over the limit."""
        rule = self.rules[scope]
        backend = self.limiter.limiter
        try:
            allowed = backend.hit(rule.item, self.key_prefix, scope, key)
        except Exception as exc:  # noqa: BLE001 - a broken limiter store must not stop ingest
            log.warning("rate-limit storage failed (%s); allowing request", type(exc).__name__)
            return
        if allowed:
            return
        try:
            reset_at = backend.get_window_stats(rule.item, self.key_prefix, scope, key).reset_time
        except Exception:  # noqa: BLE001
            reset_at = time.time() + rule.item.get_expiry()
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise RateLimited(rule.text, retry_after)
