"""Data completeness of one host: the share of expected samples present over a window, the
gaps, and the stretches that arrived late (filled from the agent's spool after an outage).

Expected samples come from a reference series the agent always sends (`cpu` cpu-total) and
its collection interval, estimated from the data itself (the typical number of samples per
minute) unless the caller says it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fleetmon_api.latefill import LateWindow
from fleetmon_db.timeseries import NS, SeriesData

REFERENCE_MEASUREMENT = "cpu"
REFERENCE_FIELD = "usage_user"
REFERENCE_TAGS = {"cpu": "cpu-total"}
# Samples are counted per bucket of this many seconds (raw data: under the first rollup).
STEP_S = 60


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch with no sample of the reference series."""

    start: datetime
    end: datetime
    missing: int


@dataclass(frozen=True, slots=True)
class LateFill:
    """A stretch whose samples arrived late (replayed from the agent's spool)."""

    start: datetime
    end: datetime
    points: int
    arrived_first: datetime
    arrived_last: datetime


@dataclass(slots=True)
class Completeness:
    """What `measure` found."""

    start: datetime
    end: datetime
    interval_s: float | None
    expected: int
    present: int
    ratio: float | None
    gaps: list[Gap] = field(default_factory=list)
    filled_late: list[LateFill] = field(default_factory=list)


def _at(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / NS, UTC)


def estimate_interval(counts: Sequence[int], step_s: int = STEP_S) -> float | None:
    """The collection interval from samples per bucket: the median of non-empty buckets."""
    busy = [c for c in counts if c > 0]
    if not busy:
        return None
    return step_s / statistics.median(busy)


def measure(
    series: Sequence[SeriesData],
    start_ns: int,
    end_ns: int,
    late: Sequence[LateWindow],
    interval_s: float | None = None,
    step_s: int = STEP_S,
    since_ns: int | None = None,
) -> Completeness:
    """Completeness over [start_ns, end_ns) (both on bucket boundaries) from per-bucket counts.

    `since_ns`: the host's first contact; nothing is expected before it, or before its first
    sample if that is older (data stamped before the first contact, e.g. imported).
    """
    step_ns = step_s * NS
    counts = dict.fromkeys(range(start_ns, end_ns, step_ns), 0)
    for s in series:
        for t, v in s.points:
            if t in counts and v:
                counts[t] += int(v)
    first_data = next((b for b, c in counts.items() if c), end_ns)
    begin = min(first_data, end_ns if since_ns is None else since_ns - since_ns % step_ns)
    start_ns = max(start_ns, begin)
    buckets = [b for b in counts if b >= start_ns]
    ordered = [counts[b] for b in buckets]
    interval = interval_s or estimate_interval(ordered, step_s)
    result = Completeness(_at(start_ns), _at(end_ns), interval, 0, 0, None)
    if interval is None or not buckets:
        return result
    per_bucket = step_s / interval
    expected = per_bucket * len(buckets)
    present = sum(min(c, per_bucket) for c in ordered)
    result.expected = round(expected)
    result.present = round(present)
    result.ratio = round(present / expected, 4) if expected else None
    run_start: int | None = None
    for b, c in zip([*buckets, end_ns], [*ordered, 1], strict=True):
        if c == 0 and run_start is None:
            run_start = b
        elif c != 0 and run_start is not None:
            missing = round((b - run_start) / step_ns * per_bucket)
            result.gaps.append(Gap(_at(run_start), _at(b), missing))
            run_start = None
    for w in late:
        if w.end_ns < start_ns or w.start_ns >= end_ns:
            continue
        result.filled_late.append(
            LateFill(
                _at(max(w.start_ns, start_ns)),
                _at(min(w.end_ns, end_ns)),
                w.points,
                w.arrived_first,
                w.arrived_last,
            )
        )
    return result
