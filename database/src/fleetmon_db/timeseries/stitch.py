"""Range answers stitched across tiers: the coarse tier where its windows are closed, finer
data for the rest, up to now. Both stores answer `query_range` through `stitched_range`,
and summaries that read a rollup tier through `stitched_summary_windows`.

A rollup tier only holds windows that have closed and been rolled up: everything before its
watermark. A range read from that tier alone would be empty on a fresh install and would
trail the present by up to one window (an hour for 1h, a day for 1d). So the range is cut
into spans: the chosen tier up to its watermark, then the next finer tier up to its own,
and raw data for the rest. Every seam falls on a bucket boundary that is also a window
boundary of the coarser tier, so no bucket reads two tiers and no window is counted twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from fleetmon_db.timeseries.compute import align_down, assemble, bucket_starts
from fleetmon_db.timeseries.model import (
    NS,
    Aggregate,
    RangeQuery,
    SeriesData,
    SeriesKey,
    TierSpan,
)
from fleetmon_db.timeseries.tiers import Tier, pick_tier

# Reads one tier: (tier, lo, hi) -> each series' value per bucket of the query in [lo, hi).
TierReader = Callable[[Tier, int, int], dict[SeriesKey, dict[int, float]]]


@dataclass(frozen=True, slots=True)
class Span:
    """One tier's part of a stitched range: [start_ns, end_ns)."""

    tier: Tier
    start_ns: int
    end_ns: int


def plan_spans(
    tiers: Sequence[Tier],
    chosen: Tier,
    watermarks: Mapping[str, int],
    start_ns: int,
    end_ns: int,
    step_s: int,
) -> list[Span]:
    """The tiers that answer [start, end): `chosen` and finer ones, coarsest first.

    A rollup tier answers up to its watermark, cut back to a boundary of both the step and
    its windows; a tier without a watermark (never rolled up) answers nothing; raw answers
    whatever is left.
    """
    finer = [t for t in tiers if t.resolution_s <= chosen.resolution_s]
    finer.sort(key=lambda t: t.resolution_s, reverse=True)
    spans: list[Span] = []
    cur = start_ns
    for tier in finer:
        if cur >= end_ns:
            break
        if tier.is_raw:
            spans.append(Span(tier, cur, end_ns))
            break
        wm = watermarks.get(tier.name)
        if wm is None:
            continue
        seam = align_down(min(wm, end_ns), math.lcm(step_s, tier.resolution_s) * NS)
        if seam > cur:
            spans.append(Span(tier, cur, seam))
            cur = seam
    return spans


def stitched_range(
    query: RangeQuery,
    tiers: Sequence[Tier],
    now_ns: int,
    watermarks: Callable[[], Mapping[str, int]],
    read: TierReader,
) -> list[SeriesData]:
    """A range query answered from the tier `pick_tier` chooses, completed by finer tiers.

    `watermarks` is asked only when the chosen tier is a rollup tier; `read` once per span.
    """
    agg = Aggregate(query.aggregate)
    sel = query.selector
    step_ns = query.step_s * NS
    buckets = bucket_starts(query.start_ns, query.end_ns, step_ns)
    if not buckets or (sel.hosts is not None and not sel.hosts):
        return []
    chosen = pick_tier(tiers, query.start_ns, query.step_s, now_ns)
    # RATE reads the bucket before the first one too, so that the first has a rate.
    lo = buckets[0] - step_ns if agg is Aggregate.RATE else query.start_ns
    marks = {} if chosen.is_raw else watermarks()
    spans = plan_spans(tiers, chosen, marks, lo, query.end_ns, query.step_s)
    merged: dict[SeriesKey, dict[int, float]] = {}
    for span in spans:
        for key, by_bucket in read(span.tier, span.start_ns, span.end_ns).items():
            merged.setdefault(key, {}).update(by_bucket)
    used = tuple(
        TierSpan(s.tier.name, max(s.start_ns, query.start_ns), s.end_ns)
        for s in spans
        if s.end_ns > query.start_ns
    )
    primary = used[0].tier if used else chosen.name
    return assemble(buckets, merged, agg, primary, used)


# One rollup window's statistics (mean, min, max, count, sum); a raw value v is (v, v, v, 1, v).
Window = tuple[float, float, float, float, float]
# Reads one tier's windows (raw: one per value) in [lo, hi).
WindowReader = Callable[[Tier, int, int], list[Window]]


def stitched_summary_windows(
    tiers: Sequence[Tier],
    start_ns: int,
    end_ns: int,
    now_ns: int,
    watermarks: Callable[[], Mapping[str, int]],
    read: WindowReader,
) -> list[Window] | None:
    """The windows a summary of [start, end) is computed from when `pick_tier` chooses a
    rollup tier: that tier where rolled up, finer tiers for the rest (raw values as windows
    of one). None when the chosen tier is raw: the store computes that exactly itself.
    """
    chosen = pick_tier(tiers, start_ns, 0, now_ns)
    if chosen.is_raw:
        return None
    # A step of one second: seams fall on the coarser tier's window boundaries.
    spans = plan_spans(tiers, chosen, watermarks(), start_ns, end_ns, 1)
    return [w for s in spans for w in read(s.tier, s.start_ns, s.end_ns)]
