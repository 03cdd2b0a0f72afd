"""Verified host keys kept in memory, so ingest does not hit the database per request.

An entry is trusted for `ttl_s` after it was last confirmed: when it was verified, or when a
revalidation sweep last found its key still valid. `KeyRevalidator` sweeps every few seconds
in every worker (one query for the ids of the keys still valid: not revoked, not
expired, host not deleted) and evicts the rest, then confirms everything it kept. Under a
live fleet entries therefore never expire, yet a revocation, rotation or deletion made by
any worker (or by the CLI, straight in the database) takes effect on every worker within one
sweep interval. If sweeps stop succeeding (database down), entries age out after `ttl_s`
as a plain TTL cache would.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_db.models import HostKey

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HostIdentity:
    """The host a request speaks for, as established by its API key."""

    host_id: int
    name: str
    key_id: int


class KeyCache:
    """Key hash -> host, trusted for `ttl_s` after the last confirmation; evicted on revocation."""

    def __init__(
        self, ttl_s: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        # key hash -> (identity, verified at, key expiry on the clock or None)
        self._items: dict[str, tuple[HostIdentity, float, float | None]] = {}
        # When the last successful sweep read the valid keys: every entry it kept was valid then.
        self._confirmed = float("-inf")

    def get(self, key_hash: str) -> HostIdentity | None:
        """The cached identity, if confirmed within `ttl_s` and not past the key's expiry."""
        item = self._items.get(key_hash)
        if item is None:
            return None
        ident, verified, expires = item
        now = self._clock()
        if max(verified, self._confirmed) + self._ttl < now:
            return None
        if expires is not None and expires <= now:
            return None
        return ident

    def put(self, key_hash: str, identity: HostIdentity, valid_for_s: float | None = None) -> None:
        """Cache a verified key (`valid_for_s`: until the key itself expires, if it does)."""
        if self._ttl <= 0:
            return
        now = self._clock()
        expires = None if valid_for_s is None else now + valid_for_s
        with self._lock:
            if len(self._items) >= self._max:
                self._items.clear()
            self._items[key_hash] = (identity, now, expires)

    def evict_host(self, host_id: int) -> None:
        """Forget every key of a host (revoked, rotated or deleted) in this process at once;
        the other workers drop it at their next sweep."""
        with self._lock:
            for k in [k for k, (ident, _, _) in self._items.items() if ident.host_id == host_id]:
                del self._items[k]

    def key_ids(self) -> set[int]:
        """The key ids cached now."""
        with self._lock:
            return {ident.key_id for ident, _, _ in self._items.values()}

    def sweep(self, checked: set[int], valid: set[int], read_at: float) -> int:
        """Evict the keys of `checked` not in `valid` (read at `read_at`); how many went.

        Keys cached after the check began are not in `checked` and stay: they were verified
        after `read_at`.
        """
        stale = checked - valid
        with self._lock:
            gone = [k for k, (i, _, _) in self._items.items() if i.key_id in stale]
            for k in gone:
                del self._items[k]
            self._confirmed = max(self._confirmed, read_at)
        return len(gone)

    def __len__(self) -> int:
        return len(self._items)


class KeyRevalidator:
    """The sweep: which of the cached keys are still valid, from the database."""

    def __init__(
        self,
        cache: KeyCache,
        sessions: sessionmaker[Session],
        wall_clock: Callable[[], datetime],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cache = cache
        self._sessions = sessions
        self._wall = wall_clock
        self._clock = clock

    def sweep(self) -> int:
        """Evict cached keys revoked, expired or deleted since they were verified."""
        read_at = self._clock()
        cached = self.cache.key_ids()
        if not cached:
            self.cache.sweep(cached, cached, read_at)
            return 0
        now = self._wall()
        # Every valid key id: one plain indexed scan, cheaper to compile and run than an IN
        # list of every cached id (thousands of bind parameters).
        with self._sessions() as db:
            valid = set(
                db.scalars(
                    select(HostKey.id).where(
                        HostKey.revoked_at.is_(None),
                        or_(HostKey.expires_at.is_(None), HostKey.expires_at > now),
                    )
                )
            )
        evicted = self.cache.sweep(cached, valid, read_at)
        if evicted:
            log.info("key cache: %d revoked or deleted keys evicted", evicted)
        return evicted
