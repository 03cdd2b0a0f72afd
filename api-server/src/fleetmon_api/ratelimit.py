"""Rate limits via slowapi's Limiter (memory:// or redis:// storage) as FastAPI dependencies."""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import Storage
from slowapi import Limiter

log = logging.getLogger(__name__)

# Clients remembered as over a failure limit, per process (bounded: a sweep, then a reset).
MAX_REFUSED = 100_000


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


class LocalStorage(Storage):
    """In-process fixed-window counters that expire lazily (scheme ``fleetmon-memory://``).

    limits' own memory storage starts a timer thread on a counter hit whenever the previous
    one has ended (10 ms), which for an API taking a batch every few ms is a thread start
    per request. Here an expired counter is reset when next touched, and a sweep every
    SWEEP_EVERY hits bounds memory.
    """

    STORAGE_SCHEME = ["fleetmon-memory"]
    SWEEP_EVERY = 10_000

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **_: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **_)
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, expires at)
        self._lock = threading.Lock()
        self._hits = 0
        self._clock = time.time

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        """Errors this storage may raise."""
        return ValueError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add `amount` to the key's counter, starting a new window if the last one ended."""
        now = self._clock()
        with self._lock:
            self._hits += 1
            if self._hits % self.SWEEP_EVERY == 0:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, expires = self._counts.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + expiry
            count += amount
            self._counts[key] = (count, expires)
            return count

    def get(self, key: str) -> int:
        """The key's count in its current window."""
        count, expires = self._counts.get(key, (0, 0.0))
        return count if expires > self._clock() else 0

    def get_expiry(self, key: str) -> float:
        """When the key's window ends (epoch seconds)."""
        _, expires = self._counts.get(key, (0, 0.0))
        return expires if expires > self._clock() else self._clock()

    def check(self) -> bool:
        """Always healthy."""
        return True

    def reset(self) -> int | None:
        """Forget every counter."""
        with self._lock:
            n = len(self._counts)
            self._counts = {}
        return n

    def clear(self, key: str) -> None:
        """Forget one counter."""
        with self._lock:
            self._counts.pop(key, None)


class RateLimiter:
    """Per-app limiter: slowapi holds the storage; each check hits one (scope, key) counter."""

    def __init__(self, storage_url: str, key_prefix: str, rules: dict[str, str]) -> None:
        # In-process counters: a check does no I/O and may run on the event loop.
        self.local = storage_url.startswith("memory://")
        uri = "fleetmon-memory://" if self.local else storage_url
        self.limiter = Limiter(key_func=lambda: "", storage_uri=uri, strategy="fixed-window")
        # Prepended to every counter key, so several deployments (or tests) share one Redis.
        self.key_prefix = key_prefix
        self.rules = {scope: Rule(scope, parse(text), text) for scope, text in rules.items()}
        # Counters that count failures (auth_failure): who went over, and until when. Read
        # from memory only, so refusing them costs no I/O; each worker learns it from its own
        # first failure after the shared counter went over.
        self._refused: dict[tuple[str, str], float] = {}
        self._refused_lock = threading.Lock()

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

    def refuse_if_over(self, scope: str, key: str) -> None:
        """Raise RateLimited if `key` went over `scope` (see count_failure) and its window has
        not ended: a dictionary lookup, run before any work a failing client could cause."""
        until = self._refused.get((scope, key))
        if until is None:
            return
        left = until - time.time()
        if left <= 0:
            with self._refused_lock:
                self._refused.pop((scope, key), None)
            return
        raise RateLimited(self.rules[scope].text, max(1, math.ceil(left)))

    def count_failure(self, scope: str, key: str) -> None:
        """Count one failure of `key`; over the limit, remember it and raise RateLimited."""
        try:
            self.check(scope, key)
        except RateLimited as exc:
            now = time.time()
            with self._refused_lock:
                if len(self._refused) >= MAX_REFUSED:
                    self._refused = {k: t for k, t in self._refused.items() if t > now}
                    if len(self._refused) >= MAX_REFUSED:
                        self._refused.clear()
                self._refused[(scope, key)] = now + exc.retry_after
            raise
