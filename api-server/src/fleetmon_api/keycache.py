"""Short-lived cache of verified host keys, so ingest does not hit the database per request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HostIdentity:
    """The host a request speaks for, as established by its API key."""

    host_id: int
    name: str
    key_id: int


class KeyCache:
    """Maps a key's hash to its host for `ttl_s`; revocation in this process evicts at once."""

    def __init__(
        self, ttl_s: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[str, tuple[HostIdentity, float]] = {}

    def get(self, key_hash: str) -> HostIdentity | None:
        """The cached identity, if still fresh."""
        item = self._items.get(key_hash)
        if item is None or item[1] < self._clock():
            return None
        return item[0]

    def put(self, key_hash: str, identity: HostIdentity) -> None:
        """Cache a verified key."""
        if self._ttl <= 0:
            return
        with self._lock:
            if len(self._items) >= self._max:
                self._items.clear()
            self._items[key_hash] = (identity, self._clock() + self._ttl)

    def evict_host(self, host_id: int) -> None:
        """Forget every key of a host (revoked, rotated or deleted), in this process only.

        With `serve --workers N` the other workers keep a revoked key for up to `ttl_s`;
        every revocation calls this, so sharing it (e.g. a Redis message) belongs here.
        """
        with self._lock:
            for k in [k for k, (ident, _) in self._items.items() if ident.host_id == host_id]:
                del self._items[k]
