"""Remember accepted batch ids so a retried batch is acknowledged without writing twice."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
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
    """Batch ids of the last `ttl_s`, at most about `max_entries` (per process).

    Kept compact because a busy server holds its bound at all times: 2,000 hosts every 5 s
    fill 100,000 ids in four minutes, and ids as strings in an LRU cost ~200 bytes each, so
    the API's RSS grew for the first quarter hour of a fleet's traffic. Here an id is a
    64-bit digest in a set (~80 bytes), sets are generations (a new one every `ttl_s` / 24
    or every `max_entries` / 8 ids), and the oldest generation goes as a whole when it
    expires or the bound is passed. A new id matching the digest of a remembered one
    would be acknowledged without being written: 1 in 2^64 / 100,000 per batch, under one
    chance in 10,000 in a year of 400 batches a second.
    """

    GENERATIONS = 8

    def __init__(
        self, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_s
        self._max = max(1, max_entries)
        self._gen_s = ttl_s / 24
        self._gen_size = max(1, self._max // self.GENERATIONS)
        self._clock = clock
        self._lock = threading.Lock()
        # (started at, digests), oldest first; the last one takes new ids.
        self._gens: deque[tuple[float, set[int]]] = deque()
        self._count = 0

    async def seen(self, key: str) -> bool:
        """`seen_now` (in memory: no I/O, safe on the loop)."""
        return self.seen_now(key)

    async def record(self, key: str) -> None:
        """`record_now`."""
        self.record_now(key)

    async def aclose(self) -> None:
        """Nothing to release."""

    def seen_now(self, key: str) -> bool:
        """True if `key` was recorded within the TTL (to one generation's precision)."""
        digest = _digest(key)
        with self._lock:
            self._expire(self._clock())
            return any(digest in ids for _, ids in self._gens)

    def record_now(self, key: str) -> None:
        """Remember `key`; drop the oldest generation beyond the bound."""
        digest = _digest(key)
        with self._lock:
            now = self._clock()
            self._expire(now)
            if (
                not self._gens
                or len(self._gens[-1][1]) >= self._gen_size
                or now - self._gens[-1][0] >= self._gen_s
            ):
                self._gens.append((now, set()))
            ids = self._gens[-1][1]
            if digest not in ids:
                ids.add(digest)
                self._count += 1
            while self._count > self._max and len(self._gens) > 1:
                self._count -= len(self._gens.popleft()[1])

    def _expire(self, now: float) -> None:
        # A generation expires once its newest id could be older than the TTL.
        while len(self._gens) > 1 and self._gens[1][0] + self._ttl <= now:
            self._count -= len(self._gens.popleft()[1])
        if self._gens and self._gens[0][0] + self._gen_s + self._ttl <= now:
            self._count -= len(self._gens.popleft()[1])

    def clear(self) -> None:
        """Forget every id (what a restarted process knows)."""
        with self._lock:
            self._gens.clear()
            self._count = 0

    def __len__(self) -> int:
        return self._count


def _digest(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


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
