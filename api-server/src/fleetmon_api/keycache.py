"""Verified host keys kept in memory, so ingest does not hit the database per request.

An entry is trusted for `ttl_s` after it was last confirmed: when it was verified, or when a
revalidation sweep last found its key still valid. `KeyRevalidator` sweeps every few seconds
in every worker (one query for the ids of the keys still valid: not revoked, not
expired, host not deleted) and evicts the rest, then confirms everything it kept. Under a
live fleet entries therefore never expire, yet a revocation, rotation or deletion made by
any worker (or by the CLI, straight in the database) takes effect on every worker within one
sweep interval. If sweeps stop succeeding (database down), entries age out after `ttl_s`
as a plain TTL cache would.

The sweep also loads the valid keys the cache does not hold yet (all of them at start-up,
then the few enrolled since), so a restarted API does not look up a whole fleet's keys one
request at a time: 2,000 agents reconnecting within one interval queued on the database
pool for seconds (p99 ~1 s in `python -m bench fleet`) before this.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, or_, select
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_db.models import Host, HostKey

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
        # Sweeps fill the cache to 90 % at most: a full cache is cleared by the next `put`
        # (a key verified on request), which a sweep filling it would make happen every sweep.
        self._load_max = max_entries * 9 // 10
        self._clock = clock
        self._lock = threading.Lock()
        # key hash -> (identity, verified at, key expiry on the clock or None)
        self._items: dict[str, tuple[HostIdentity, float, float | None]] = {}
        # When the last successful sweep read the valid keys: every entry it kept was valid then.
        self._confirmed = float("-inf")
        # Host id -> when this process last evicted it: a sweep that read the database
        # before then must not bring the host's keys back.
        self._evicted: dict[int, float] = {}

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

    def load(
        self, entries: Sequence[tuple[str, HostIdentity, float | None]], read_at: float
    ) -> int:
        """Cache keys a sweep read as valid at `read_at` (key hash, identity, seconds until
        the key expires), as far as there is room; how many were added."""
        if self._ttl <= 0:
            return 0
        now = self._clock()
        added = 0
        with self._lock:
            for key_hash, ident, valid_for_s in entries:
                if len(self._items) >= self._load_max:
                    break
                evicted_at = self._evicted.get(ident.host_id, float("-inf"))
                if key_hash in self._items or evicted_at >= read_at:
                    continue
                expires = None if valid_for_s is None else now + valid_for_s
                self._items[key_hash] = (ident, read_at, expires)
                added += 1
        return added

    def room(self) -> int:
        """Entries a sweep can still load."""
        return max(0, self._load_max - len(self._items))

    def evict_host(self, host_id: int) -> None:
        """Forget every key of a host (revoked, rotated or deleted) in this process at once;
        the other workers drop it at their next sweep."""
        with self._lock:
            self._evicted[host_id] = self._clock()
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
            # Older evictions cannot race with a sweep that reads after this one.
            self._evicted = {h: t for h, t in self._evicted.items() if t >= read_at}
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
        """Evict cached keys revoked, expired or deleted since they were verified; cache the
        valid keys not cached yet. The number evicted."""
        read_at = self._clock()
        cached = self.cache.key_ids()
        now = self._wall()
        is_valid = (
            HostKey.revoked_at.is_(None),
            or_(HostKey.expires_at.is_(None), HostKey.expires_at > now),
        )
        # Every valid key id: one plain indexed scan, cheaper to compile and run than an IN
        # list of every cached id (thousands of bind parameters).
        with self._sessions() as db:
            valid = set(db.scalars(select(HostKey.id).where(*is_valid)))
            missing = valid - cached
            rows: Sequence[Row[str, int, int, str, datetime | None]] = ()
            if missing and self.cache.room():
                # Rare after start-up (keys enrolled since the last sweep), all at start-up.
                rows = db.execute(
                    select(HostKey.key_hash, HostKey.id, HostKey.host_id, Host.name,
                           HostKey.expires_at)
                    .join(Host, Host.id == HostKey.host_id)
                    .where(*is_valid)
                ).all()  # fmt: skip
        evicted = self.cache.sweep(cached, valid, read_at)
        if evicted:
            log.info("key cache: %d revoked or deleted keys evicted", evicted)
        entries = [
            (key_hash, HostIdentity(host_id, name, key_id),
             None if expires is None else (expires - now).total_seconds())
            for key_hash, key_id, host_id, name, expires in rows
            if key_id in missing
        ]  # fmt: skip
        added = self.cache.load(entries, read_at)
        if added:
            log.debug("key cache: %d valid keys loaded", added)
        return evicted
