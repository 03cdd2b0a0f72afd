"""Remember accepted batch ids so a retried batch is acknowledged without writing twice."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class BatchLedger(Protocol):
    """Which batches were already stored; asked from the event loop, so never blocking it."""

    async def seen(self, key: str) -> bool:
        """True if `key` was recorded and has not expired."""

    async def record(self, key: str) -> None:
        """Remember `key` for the ledger's TTL."""

    async def aclose(self) -> None:
        """Release connections (on the loop that used them)."""


class MemoryLedger:
    """A bounded LRU of batch ids with a TTL (per process)."""

    def __init__(
        self, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[str, float] = OrderedDict()

    async def seen(self, key: str) -> bool:
        """`seen_now` (in memory: no I/O, safe on the loop)."""
        return self.seen_now(key)

    async def record(self, key: str) -> None:
        """`record_now`."""
        self.record_now(key)

    async def aclose(self) -> None:
        """Nothing to release."""

    def seen_now(self, key: str) -> bool:
        """True if `key` was recorded within the TTL."""
        with self._lock:
            expires = self._items.get(key)
            if expires is None:
                return False
            if expires < self._clock():
                del self._items[key]
                return False
            return True

    def record_now(self, key: str) -> None:
        """Remember `key`; evict the oldest entries beyond the bound."""
        with self._lock:
            self._items[key] = self._clock() + self._ttl
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)


class RedisLedger:
    """Batch ids in Redis (SET NX EX), shared by every worker and replica; memory in front.

    The asyncio client: a Redis round trip awaits instead of blocking the event loop (every
    other request of the worker) or taking a thread hop per request.
    """

    def __init__(self, url: str, prefix: str, ttl_s: int, local: MemoryLedger) -> None:
        import redis.asyncio

        self._redis = redis.asyncio.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0
        )
        self._prefix = f"{prefix}:batch:"
        self._ttl = ttl_s
        self._local = local

    async def seen(self, key: str) -> bool:
        """True if this process or any other recorded `key`."""
        if self._local.seen_now(key):
            return True
        try:
            return bool(await self._redis.exists(self._prefix + key))
        except Exception as exc:  # noqa: BLE001 - Redis down must not stop ingest
            log.warning("idempotency lookup in Redis failed: %s", type(exc).__name__)
            return False

    async def record(self, key: str) -> None:
        """Record `key` locally and in Redis."""
        self._local.record_now(key)
        try:
            await self._redis.set(self._prefix + key, b"1", nx=True, ex=self._ttl)
        except Exception as exc:  # noqa: BLE001
            log.warning("idempotency record in Redis failed: %s", type(exc).__name__)

    async def aclose(self) -> None:
        """Close the connection pool (on the loop that opened it)."""
        await self._redis.aclose()
