"""Arithmetic shared by both stores, so that they answer every question identically."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence

from fleetmon_db.timeseries.model import (
    NS,
    Aggregate,
    SeriesData,
    SeriesKey,
    StoreError,
    Summary,
    TierSpan,
)

MAX_BUCKETS = 100_000


def align_down(t_ns: int, width_ns: int) -> int:
    """Start of the epoch-aligned window of width `width_ns` that contains `t_ns`."""
    return t_ns - t_ns % width_ns


def bucket_starts(start_ns: int, end_ns: int, step_ns: int) -> list[int]:
    """Epoch-aligned bucket starts covering [start, end); refuses absurd bucket counts."""
    if step_ns <= 0:
        raise StoreError("step must be a positive number of seconds")
    first = align_down(start_ns, step_ns)
    if end_ns <= start_ns:
        return []
    if (end_ns - first) // step_ns > MAX_BUCKETS:
        raise StoreError(f"range/step asks for more than {MAX_BUCKETS} buckets")
    return list(range(first, end_ns, step_ns))


def fill(buckets: Sequence[int], values: dict[int, float]) -> list[tuple[int, float | None]]:
    """One (bucket, value or None) per bucket."""
    return [(b, values.get(b)) for b in buckets]


def rate_per_bucket(values: dict[int, float], buckets: Sequence[int]) -> dict[int, float]:
    """Per-second increase between consecutive non-empty buckets; a counter reset gives 0.

    `values` holds the counter per bucket (its last raw value, or its max on rollup tiers)
    and may include the bucket before the first one so that the first bucket has a rate.
    """
    out: dict[int, float] = {}
    prev: tuple[int, float] | None = None
    first = buckets[0] if buckets else 0
    for t in sorted(values):
        v = values[t]
        if prev is not None and t >= first:
            dt = (t - prev[0]) / NS
            out[t] = max(0.0, v - prev[1]) / dt if dt > 0 else 0.0
        prev = (t, v)
    return out


def last_per_bucket(rows: Iterable[tuple[int, float]], step_ns: int) -> dict[int, float]:
    """The last value (by time) in each bucket; rows must be in time order."""
    out: dict[int, float] = {}
    for t, v in rows:
        out[t - t % step_ns] = v
    return out


def window_rate(rows: Sequence[tuple[int, float]]) -> float | None:
    """Per-second increase of a counter over time-ordered samples; resets count as 0."""
    if len(rows) < 2:
        return None
    increase = sum(max(0.0, b[1] - a[1]) for a, b in itertools.pairwise(rows))
    dt = (rows[-1][0] - rows[0][0]) / NS
    return increase / dt if dt > 0 else None


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear-interpolation percentile (PostgreSQL percentile_cont, numpy's default)."""
    n = len(sorted_values)
    if n == 0:
        return None
    pos = (n - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def percentile_ranks(n: int, q: float) -> tuple[int, int, float]:
    """(lower index, upper index, fraction) that `percentile` interpolates between."""
    pos = (n - 1) * q / 100.0
    lo = math.floor(pos)
    return lo, min(lo + 1, n - 1), pos - lo


def summary_of(values: Sequence[float]) -> Summary:
    """Exact summary of raw values."""
    if not values:
        return Summary(0, None, None, None, None, None)
    s = sorted(values)
    return Summary(
        count=len(s),
        avg=math.fsum(s) / len(s),
        min=s[0],
        max=s[-1],
        p95=percentile(s, 95),
        p99=percentile(s, 99),
    )


def summary_of_rollups(rows: Sequence[tuple[float, float, float, float, float]]) -> Summary:
    """Summary from rollup windows (mean, min, max, count, sum): exact avg/min/max/count.

    Percentiles are estimated from the window means and flagged approximate.
    """
    rows = [r for r in rows if r[3]]
    if not rows:
        return Summary(0, None, None, None, None, None, approximate=True)
    count = sum(r[3] for r in rows)
    means = sorted(r[0] for r in rows)
    return Summary(
        count=int(count),
        avg=math.fsum(r[4] for r in rows) / count,
        min=min(r[1] for r in rows),
        max=max(r[2] for r in rows),
        p95=percentile(means, 95),
        p99=percentile(means, 99),
        approximate=True,
    )


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, merged, non-empty [start, end) ranges."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(r for r in ranges if r[1] > r[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


class RollupBucket:
    """Accumulates rollup windows into one coarser bucket."""

    __slots__ = ("count", "last_mean", "last_t", "max", "min", "sum")

    def __init__(self) -> None:
        self.count = 0.0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.last_t = -1
        self.last_mean = 0.0

    def add(self, t: int, mean: float, mn: float, mx: float, count: float, total: float) -> None:
        """Fold in one window."""
        self.count += count
        self.sum += total
        self.min = min(self.min, mn)
        self.max = max(self.max, mx)
        if t > self.last_t:
            self.last_t, self.last_mean = t, mean

    def value(self, aggregate: Aggregate) -> float | None:
        """The bucket's value for `aggregate` (RATE: the max, differentiated by the caller).

        LAST on a rollup tier is the mean of the newest window in the bucket.
        """
        if not self.count:
            return None
        if aggregate is Aggregate.MEAN:
            return self.sum / self.count
        if aggregate is Aggregate.MIN:
            return self.min
        if aggregate in (Aggregate.MAX, Aggregate.RATE):
            return self.max
        if aggregate is Aggregate.SUM:
            return self.sum
        if aggregate is Aggregate.COUNT:
            return self.count
        return self.last_mean


def assemble(
    buckets: Sequence[int],
    per_series: Mapping[SeriesKey, dict[int, float]],
    aggregate: Aggregate,
    tier: str,
    spans: tuple[TierSpan, ...] = (),
) -> list[SeriesData]:
    """A range query's answer from each series' values per bucket (from the tiers in `spans`).

    RATE values are the counter per bucket (including the bucket before the first one),
    differentiated here.
    """
    out = []
    for key, by_bucket in per_series.items():
        if aggregate is Aggregate.RATE:
            by_bucket = rate_per_bucket(by_bucket, buckets)
        out.append(SeriesData(key, fill(buckets, by_bucket), tier, spans))
    out.sort(key=lambda s: s.key)
    return out
