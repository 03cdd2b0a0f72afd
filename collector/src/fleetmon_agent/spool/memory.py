"""An in-memory spool: same contract as the file spool, without durability."""

from __future__ import annotations

import json
import threading
import time
from typing import Callable

from fleetmon_agent.drops import REJECTED, SPOOL_EXPIRED, SPOOL_FULL, DropLedger
from fleetmon_agent.spool.base import Batch, Spool, WirePoint, new_batch_id


class _Entry:
    __slots__ = ("batch_id", "created", "key", "points", "sealed", "size")

    def __init__(
        self,
        key: str,
        created: float,
        batch_id: str,
        points: list[WirePoint],
        size: int,
        sealed: bool,
    ) -> None:
        self.key, self.created, self.batch_id = key, created, batch_id
        self.points, self.size, self.sealed = points, size, sealed


class MemorySpool(Spool):
    """Bounded list of batches kept in memory."""

    def __init__(
        self,
        max_bytes: int = 100 * 10**6,
        max_age: float = 86400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_bytes, self.max_age, self.clock = max_bytes, max_age, clock
        self._entries: list[_Entry] = []
        self._lock = threading.Lock()
        self._seq = 0
        self.ledger = DropLedger()
        self._inflight: set[str] = set()
        self.quarantined: list[tuple[Batch, str]] = []

    def add(self, points: list[WirePoint], batch_id: str | None = None) -> str:
        """Store a batch; return its batch id."""
        bid = batch_id or new_batch_id()
        size = len(json.dumps(points))
        with self._lock:
            self._seq += 1
            self._entries.append(
                _Entry(f"m{self._seq:012d}", self.clock(), bid, list(points), size, False)
            )
            self._enforce()
        return bid

    def _enforce(self) -> None:
        now = self.clock()
        total = sum(e.size for e in self._entries)
        keep: list[_Entry] = []
        for i, e in enumerate(self._entries):
            over = total > self.max_bytes or now - e.created > self.max_age
            # The newest entry always stays: a bound smaller than one batch still sends it.
            if over and e.key not in self._inflight and i < len(self._entries) - 1:
                self.ledger.add(
                    SPOOL_FULL if total > self.max_bytes else SPOOL_EXPIRED, len(e.points)
                )
                total -= e.size
                continue
            keep.append(e)
        self._entries = keep

    def take(self, max_points: int, newest: bool = False) -> Batch | None:
        """The next batch to send, or None when the spool is empty."""
        with self._lock:
            self._enforce()
            if not self._entries:
                return None
            order = list(reversed(self._entries)) if newest else list(self._entries)
            first = order[0]
            group = [first]
            if not first.sealed:
                count = len(first.points)
                for e in order[1:]:
                    if e.sealed or count + len(e.points) > max_points:
                        break
                    group.append(e)
                    count += len(e.points)
            if len(group) == 1:
                first.sealed = True
                self._inflight.add(first.key)
                return Batch(first.batch_id, list(first.points), [first.key])
            group.sort(key=lambda e: e.key)
            merged_points = [p for e in group for p in e.points]
            merged = _Entry(
                group[0].key + "m",
                group[0].created,
                new_batch_id(),
                merged_points,
                sum(e.size for e in group),
                True,
            )
            gone = {e.key for e in group}
            idx = min(i for i, e in enumerate(self._entries) if e.key in gone)
            self._entries = [e for e in self._entries if e.key not in gone]
            self._entries.insert(idx, merged)
            self._inflight.add(merged.key)
            return Batch(merged.batch_id, list(merged_points), [merged.key])

    def _remove(self, batch: Batch) -> None:
        keys = set(batch.keys)
        self._entries = [e for e in self._entries if e.key not in keys]
        self._inflight -= keys

    def ack(self, batch: Batch) -> None:
        """Forget the batch."""
        with self._lock:
            self._remove(batch)

    def reject(self, batch: Batch, reason: str) -> None:
        """Set the batch aside with the reason."""
        with self._lock:
            self._remove(batch)
            self.quarantined.append((batch, reason))
        self.ledger.add(REJECTED, len(batch.points), files=1)

    def settle(
        self,
        batch: Batch,
        refused: list[tuple[list[WirePoint], str]],
        unresolved: list[list[WirePoint]] | None = None,
    ) -> None:
        """Part of the batch was delivered: set the `refused` parts aside, keep the
        `unresolved` ones as batches of their own (sealed), forget the batch."""
        with self._lock:
            self._remove(batch)
            for points in unresolved or []:
                self._seq += 1
                size = len(json.dumps(points))
                self._entries.append(
                    _Entry(f"m{self._seq:012d}", self.clock(), new_batch_id(), points, size, True)
                )
            for points, reason in refused:
                self.quarantined.append((Batch(batch.batch_id, points), reason))
        for points, _reason in refused:
            self.ledger.add(REJECTED, len(points), files=1)

    def stats(self) -> tuple[int, int, int]:
        """(entries, bytes, dropped points since start)."""
        with self._lock:
            return len(self._entries), sum(e.size for e in self._entries), self.ledger.total
