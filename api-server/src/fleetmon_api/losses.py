"""Per host: what was not stored (the agent's drops and quarantines, the server's refusals)
and the host's clock offset; kept in memory and flushed to the database periodically, as
presence.py keeps last-seen (never a database write per request)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_api.telemetry import Telemetry
from fleetmon_db.hostloss import QUARANTINED_FILES, UNSPECIFIED, ClockSource, DropKind, advance
from fleetmon_db.models import Host, HostDrop

log = logging.getLogger(__name__)

CounterKey = tuple[str, str]  # (DropKind, reason)

# Reasons come from agents: one host must not grow the database or /metrics without bound
# (a handful of reasons is normal). Past these caps a host's new reasons are not kept (and
# logged), and /metrics folds new reasons into "other".
MAX_AGENT_REASONS_PER_HOST = 32
MAX_METRIC_REASONS = 64
OTHER = "other"


@dataclass(slots=True)
class Drop:
    """One kind and reason of loss of one host, as the API shows it."""

    kind: str
    reason: str
    count: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True, slots=True)
class Clock:
    """A host's clock offset (server minus host, seconds) and how and when it was measured."""

    offset_s: float
    source: str
    measured_at: datetime


@dataclass(slots=True)
class _Pending:
    """What one host reported or had refused since the last flush."""

    # The agent's cumulative counters: the values to apply in order (the newest, plus the
    # last one before each reset seen since the last flush) and when the newest arrived.
    reports: dict[CounterKey, tuple[list[int], datetime]]
    # Points the server refused, by reason: (count, first, last).
    refused: dict[str, tuple[int, datetime, datetime]]
    clock: Clock | None = None


def _empty() -> _Pending:
    return _Pending({}, {})


class LossBook:
    """Collects per-host losses and clock offsets; `flush` writes them in one transaction."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime], telemetry: Telemetry
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._telemetry = telemetry
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        # The newest clock of every host this process heard from (flushed or not).
        self._clocks: dict[int, Clock] = {}
        # The clock last written per host: an unchanged offset is rewritten only now and
        # then, not every flush (most hosts' offsets never move).
        self._written: dict[int, Clock] = {}
        self._labels: set[str] = set()

    def agent_report(
        self,
        host_id: int,
        dropped: Mapping[str, int],
        dropped_points: int,
        quarantined_files: int,
        offset_s: float,
    ) -> None:
        """Record the agent's own state as a batch carried it (cumulative counters)."""
        now = self._clock()
        measured = Clock(offset_s, ClockSource.AGENT, now)
        with self._lock:
            self._clocks[host_id] = measured
            pending = self._pending.get(host_id)
            if pending is None:
                self._pending[host_id] = pending = _empty()
            pending.clock = measured
            if not (dropped or dropped_points or quarantined_files):
                return
            reports = pending.reports
            for reason, n in dropped.items():
                if n:
                    _report(reports, (DropKind.AGENT, reason), n, now)
            if dropped_points and not dropped:
                # An agent from before `dropped` reports one total without reasons.
                _report(reports, (DropKind.AGENT, UNSPECIFIED), dropped_points, now)
            if quarantined_files:
                _report(reports, (DropKind.QUARANTINE, QUARANTINED_FILES), quarantined_files, now)

    def arrival(self, host_id: int, newest_point_ns: int) -> None:
        """Estimate the clock of a sender that does not measure it: arrival minus newest point."""
        now = self._clock()
        measured = Clock(now.timestamp() - newest_point_ns / 1e9, ClockSource.ARRIVAL, now)
        with self._lock:
            self._clocks[host_id] = measured
            self._pending.setdefault(host_id, _empty()).clock = measured

    def refused(self, host_id: int, reason: str, points: int) -> None:
        """Count points the server refused for a host (they will never be stored)."""
        if points <= 0:
            return
        now = self._clock()
        self._telemetry.points_dropped.labels(DropKind.REFUSED, self._label(reason)).inc(points)
        with self._lock:
            refused = self._pending.setdefault(host_id, _empty()).refused
            n, first, _ = refused.get(reason, (0, now, now))
            refused[reason] = (n + points, first, now)

    def forget(self, host_id: int) -> None:
        """Drop a deleted host."""
        with self._lock:
            self._pending.pop(host_id, None)
            self._clocks.pop(host_id, None)
            self._written.pop(host_id, None)

    def clock(self, host: Host) -> Clock | None:
        """The host's newest clock measurement: this process's, or the flushed one."""
        with self._lock:
            mine = self._clocks.get(host.id)
        stored = None
        if host.clock_offset_s is not None and host.clock_measured_at is not None:
            stored = Clock(host.clock_offset_s, host.clock_source or "", host.clock_measured_at)
        if mine is None or (stored is not None and stored.measured_at > mine.measured_at):
            return stored
        return mine

    def drops(self, host_id: int, rows: Sequence[HostDrop]) -> list[Drop]:
        """The host's stored drop counts with what this process has not flushed yet."""
        out = {
            (r.kind, r.reason): Drop(r.kind, r.reason, r.count, r.first_at, r.last_at) for r in rows
        }
        reported = {(r.kind, r.reason): (r.reported, r.reported_at) for r in rows}
        with self._lock:
            pending = self._pending.get(host_id)
            if pending is None:
                return sorted(out.values(), key=_order)
            reports = {k: (list(v), at) for k, (v, at) in pending.reports.items()}
            refused = dict(pending.refused)
        for key, (values, at) in reports.items():
            d = out.get(key)
            if d is None:
                d = out[key] = Drop(*key, 0, at, at)
            prev, prev_at = reported.get(key, (None, None))
            if prev_at is not None and at <= prev_at:
                continue  # older than what is stored (another worker's report)
            for value in values:
                d.count, grew = advance(d.count, prev, value)
                prev = value
                if grew:
                    d.last_at = at
        for reason, (n, first, last) in refused.items():
            d = out.get((DropKind.REFUSED, reason))
            if d is None:
                out[(DropKind.REFUSED, reason)] = Drop(DropKind.REFUSED, reason, n, first, last)
            else:
                d.count += n
                d.last_at = last
        return sorted(out.values(), key=_order)

    def flush(self) -> int:
        """Write pending losses and clocks; return how many hosts were updated."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        clocks = {h: p.clock for h, p in pending.items() if p.clock is not None}
        for host_id, c in clocks.items():
            last = self._written.get(host_id)
            if last is not None and _same_clock(last, c):
                pending[host_id].clock = None
        grown: list[tuple[str, str, int]] = []
        try:
            with self._sessions.begin() as db:
                grown = _write(db, pending)
        except Exception:
            log.exception("loss flush failed; will retry")
            self._restore(pending)
            return 0
        for host_id, p in pending.items():
            if p.clock is not None:
                self._written[host_id] = p.clock
        for kind, reason, n in grown:
            if kind == DropKind.QUARANTINE:
                self._telemetry.files_quarantined.inc(n)
            else:
                self._telemetry.points_dropped.labels(kind, self._label(reason)).inc(n)
        return len(pending)

    def _label(self, reason: str) -> str:
        """The /metrics label for a reason: itself, or "other" past MAX_METRIC_REASONS."""
        with self._lock:
            if reason in self._labels:
                return reason
            if len(self._labels) >= MAX_METRIC_REASONS:
                return OTHER
            self._labels.add(reason)
            return reason

    def _restore(self, pending: dict[int, _Pending]) -> None:
        """Put back what a failed flush took (newer reports that arrived meanwhile win)."""
        with self._lock:
            for host_id, old in pending.items():
                cur = self._pending.setdefault(host_id, _empty())
                for key, (values, at) in old.reports.items():
                    queued = cur.reports.get(key)
                    if queued is None:
                        cur.reports[key] = (values, at)
                    else:
                        cur.reports[key] = ([*values, *queued[0]], queued[1])
                for reason, (n, first, last) in old.refused.items():
                    m, _, newer = cur.refused.get(reason, (0, first, last))
                    cur.refused[reason] = (n + m, first, max(last, newer))
                if cur.clock is None:
                    cur.clock = old.clock


def _report(
    reports: dict[CounterKey, tuple[list[int], datetime]], key: CounterKey, n: int, at: datetime
) -> None:
    """Note an agent counter's value; a smaller one than the last starts a new segment (the
    agent was reset), so the growth before the reset still counts at the flush."""
    got = reports.get(key)
    if got is None:
        if len(reports) < MAX_AGENT_REASONS_PER_HOST:
            reports[key] = ([n], at)
        return
    values = got[0]
    if n < values[-1]:
        values.append(n)
    else:
        values[-1] = n
    reports[key] = (values, at)


# An offset within this of the one written, written less than REWRITE_S ago, is not rewritten.
CLOCK_TOLERANCE_S = 0.5
REWRITE_S = 300.0


def _same_clock(written: Clock, new: Clock) -> bool:
    return (
        written.source == new.source
        and abs(written.offset_s - new.offset_s) < CLOCK_TOLERANCE_S
        and (new.measured_at - written.measured_at).total_seconds() < REWRITE_S
    )


def _order(d: Drop) -> tuple[str, str]:
    return d.kind, d.reason


def _write(db: Session, pending: dict[int, _Pending]) -> list[tuple[str, str, int]]:
    """Apply pending state in one transaction; (kind, reason, growth) of agent counters."""
    ids = list(pending)
    alive = set(db.scalars(select(Host.id).where(Host.id.in_(ids))))
    # Locked where the database can (PostgreSQL): two workers flushing one host's counter
    # at once would otherwise both count the same growth.
    rows = {
        (r.host_id, r.kind, r.reason): r
        for r in db.scalars(select(HostDrop).where(HostDrop.host_id.in_(alive)).with_for_update())
    }
    grown: list[tuple[str, str, int]] = []
    reasons: dict[int, int] = {}
    for host_id, kind, _ in rows:
        if kind != DropKind.REFUSED:
            reasons[host_id] = reasons.get(host_id, 0) + 1

    def row(host_id: int, kind: str, reason: str, at: datetime) -> HostDrop | None:
        r = rows.get((host_id, kind, reason))
        if r is None:
            if kind != DropKind.REFUSED:
                if reasons.get(host_id, 0) >= MAX_AGENT_REASONS_PER_HOST:
                    log.warning(
                        "host %s: over %d drop reasons; %r not kept",
                        host_id,
                        MAX_AGENT_REASONS_PER_HOST,
                        reason,
                    )
                    return None
                reasons[host_id] = reasons.get(host_id, 0) + 1
            r = HostDrop(
                host_id=host_id, kind=kind, reason=reason, count=0, first_at=at, last_at=at
            )
            db.add(r)
            rows[(host_id, kind, reason)] = r
        return r

    for host_id, p in pending.items():
        if host_id not in alive:
            continue
        for (kind, reason), (values, at) in p.reports.items():
            r = row(host_id, kind, reason, at)
            if r is None or (r.reported_at is not None and at <= r.reported_at):
                continue  # another worker already stored a newer report
            r.reported_at = at
            growth = 0
            for value in values:
                r.count, grew = advance(r.count, r.reported, value)
                r.reported = value
                growth += grew
            if growth:
                r.last_at = at
                grown.append((kind, reason, growth))
        for reason, (n, first, last) in p.refused.items():
            refused = row(host_id, DropKind.REFUSED, reason, first)
            assert refused is not None  # server reasons are never capped
            refused.count += n
            refused.last_at = last
        if p.clock is not None:
            # A newer measurement another worker stored stays.
            at = p.clock.measured_at
            newer = Host.clock_measured_at.is_(None) | (Host.clock_measured_at < at)
            db.execute(
                update(Host)
                .where(Host.id == host_id, newer)
                .values(
                    clock_offset_s=p.clock.offset_s,
                    clock_source=p.clock.source,
                    clock_measured_at=p.clock.measured_at,
                )
            )
    return grown


def stored_drops(db: Session, host_ids: Sequence[int] | None = None) -> dict[int, list[HostDrop]]:
    """Stored drop rows per host (of `host_ids`, or every host), in one query."""
    q = select(HostDrop)
    if host_ids is not None:
        q = q.where(HostDrop.host_id.in_(host_ids))
    out: dict[int, list[HostDrop]] = {}
    for row in db.scalars(q):
        out.setdefault(row.host_id, []).append(row)
    return out
