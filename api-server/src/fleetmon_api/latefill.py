"""Late arrivals per host: time windows whose points reached the server long after their
timestamps (a backlog replayed from an agent's spool). Noted cheaply while ingesting (one
min/max per batch, windows merged in memory), flushed periodically; completeness reports
which gaps were filled late from them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_db.models import Host, HostLateWindow
from fleetmon_db.timeseries import NS

log = logging.getLogger(__name__)

# A batch whose oldest point is older than this on arrival came from a backlog (a fresh batch
# waits at most the agent's flush interval, seconds).
LATE_AFTER_S = 120
# Late batches of one replay arrive back to back and cover consecutive time: windows closer
# than this (in point time) merge into one.
MERGE_GAP_S = 300
# Kept as long as any tier keeps raw points (a day) and a little more.
KEEP = timedelta(days=2)


@dataclass(slots=True)
class LateWindow:
    """Points of one host stamped within [start_ns, end_ns] that arrived late."""

    start_ns: int
    end_ns: int
    points: int
    arrived_first: datetime
    arrived_last: datetime


class LateArrivals:
    """Collects late windows per host; `flush` writes them (merged) in one transaction."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[int, list[LateWindow]] = {}

    def note(self, host_id: int, times: list[int], now_ns: int) -> None:
        """Note a stored batch's late points, if any (`times` in ns; one pass, no sort)."""
        oldest = min(times)
        cutoff = now_ns - LATE_AFTER_S * NS
        if oldest >= cutoff:
            return
        late = [t for t in times if t < cutoff]
        newest = max(late)
        now = self._clock()
        with self._lock:
            windows = self._pending.setdefault(host_id, [])
            _merge(windows, LateWindow(oldest, newest, len(late), now, now))

    def pending(self, host_id: int) -> list[LateWindow]:
        """This process's windows of a host not flushed yet."""
        with self._lock:
            return list(self._pending.get(host_id, ()))

    def forget(self, host_id: int) -> None:
        """Drop a deleted host."""
        with self._lock:
            self._pending.pop(host_id, None)

    def flush(self) -> int:
        """Write pending windows (merged with stored neighbours); drop expired ones."""
        with self._lock:
            pending, self._pending = self._pending, {}
        now = self._clock()
        try:
            with self._sessions.begin() as db:
                if pending:
                    _write(db, pending)
                db.execute(delete(HostLateWindow).where(HostLateWindow.end_at < now - KEEP))
        except Exception:
            log.exception("late-arrival flush failed; will retry")
            with self._lock:
                for host_id, windows in pending.items():
                    mine = self._pending.setdefault(host_id, [])
                    for w in windows:
                        _merge(mine, w)
            return 0
        return len(pending)


def _merge(windows: list[LateWindow], new: LateWindow) -> None:
    """Add `new` to `windows`, merging it into one it overlaps or nearly touches."""
    gap = MERGE_GAP_S * NS
    for w in windows:
        if new.start_ns <= w.end_ns + gap and w.start_ns <= new.end_ns + gap:
            w.start_ns = min(w.start_ns, new.start_ns)
            w.end_ns = max(w.end_ns, new.end_ns)
            w.points += new.points
            w.arrived_first = min(w.arrived_first, new.arrived_first)
            w.arrived_last = max(w.arrived_last, new.arrived_last)
            return
    windows.append(new)


def _at(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / NS, UTC)


def _ns(t: datetime) -> int:
    return int(t.timestamp() * NS)


def _write(db: Session, pending: dict[int, list[LateWindow]]) -> None:
    alive = set(db.scalars(select(Host.id).where(Host.id.in_(list(pending)))))
    for host_id, windows in pending.items():
        if host_id not in alive:
            continue
        lo = min(w.start_ns for w in windows) - MERGE_GAP_S * NS
        hi = max(w.end_ns for w in windows) + MERGE_GAP_S * NS
        stored = db.scalars(
            select(HostLateWindow).where(
                HostLateWindow.host_id == host_id,
                HostLateWindow.end_at >= _at(lo),
                HostLateWindow.start_at <= _at(hi),
            )
        ).all()
        merged = [
            LateWindow(_ns(r.start_at), _ns(r.end_at), r.points, r.arrived_first, r.arrived_last)
            for r in stored
        ]
        for r in stored:
            db.delete(r)
        for w in windows:
            _merge(merged, w)
        for w in merged:
            db.add(
                HostLateWindow(
                    host_id=host_id,
                    start_at=_at(w.start_ns),
                    end_at=_at(w.end_ns),
                    points=w.points,
                    arrived_first=w.arrived_first,
                    arrived_last=w.arrived_last,
                )
            )


def stored_windows(db: Session, host_id: int, start: datetime, end: datetime) -> list[LateWindow]:
    """A host's flushed late windows overlapping [start, end)."""
    rows = db.scalars(
        select(HostLateWindow)
        .where(
            HostLateWindow.host_id == host_id,
            HostLateWindow.end_at >= start,
            HostLateWindow.start_at < end,
        )
        .order_by(HostLateWindow.start_at)
    )
    return [
        LateWindow(_ns(r.start_at), _ns(r.end_at), r.points, r.arrived_first, r.arrived_last)
        for r in rows
    ]
