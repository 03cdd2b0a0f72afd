"""Store suite, stitched ranges: every range shows data as soon as raw data exists; the
seam between a rollup tier and finer data has no hole and counts nothing twice."""

from __future__ import annotations

import pytest

from fleetmon_db.timeseries import (
    DEFAULT_TIERS,
    NS,
    Aggregate,
    RangeQuery,
    Selector,
    TierSpan,
    TimeSeriesStore,
)
from fleetmon_db.timeseries.stitch import plan_spans
from tests.database.helpers import (
    MIN,
    REF,
    D,
    H,
    approx_points,
    expected_buckets,
    gauge,
    pt,
    write_rows,
)
from tests.support.clock import FakeClock

RAW, M5, H1, D1 = DEFAULT_TIERS


def default_step(span_s: int) -> int:
    """The history API's step when none is asked: about 300 buckets, at least 10 s."""
    return max(10, -(-span_s // 300))


@pytest.mark.parametrize("rolled_up", [False, True], ids=["before-rollups", "after-rollups"])
def test_fresh_install_shows_data_at_every_range(
    store: TimeSeriesStore, clock: FakeClock, rolled_up: bool
) -> None:
    now = clock.now_ns
    # One collection, one interval ago: all a brand-new install has.
    store.write([pt("fresh", now - 10 * NS, {"usage_user": 42.0})])
    if rolled_up:
        store.rollup(now)
    sel = Selector("cpu", "usage_user", ["fresh"])
    for span_s in (3600, 86_400, 7 * 86_400, 30 * 86_400):
        step = default_step(span_s)
        out = store.query_range(
            RangeQuery(sel, now - span_s * NS, now, step, Aggregate.MEAN), now_ns=now
        )
        assert len(out) == 1, span_s
        values = [v for _, v in out[0].points if v is not None]
        assert values == [42.0], (span_s, out[0].tiers)
        # The newest data comes from raw, whichever tier answers the older part.
        assert out[0].tiers[-1].tier == "raw", span_s
        assert out[0].tiers[-1].end_ns == now


def test_partly_rolled_up_range_has_no_hole_and_no_double_count(
    store: TimeSeriesStore, clock: FakeClock
) -> None:
    now = clock.now_ns  # the start of an hour
    rows = gauge(now - 6 * H, now, every_s=10, seed=11)
    write_rows(store, "a", rows)
    # Rollups ran 100 minutes ago: 5m windows up to now-105min, 1h up to now-2h.
    store.rollup(now - 100 * MIN)
    sel = Selector("cpu", "usage_user", ["a"])
    start = now - 6 * H
    aggs = (Aggregate.COUNT, Aggregate.SUM, Aggregate.MEAN, Aggregate.MIN, Aggregate.MAX)
    for step, coarse in ((3600, "1h"), (1800, "5m")):
        for agg in aggs:
            out = store.query_range(RangeQuery(sel, start, now, step, agg), now_ns=now)
            assert len(out) == 1
            assert out[0].tier == coarse
            assert out[0].tiers == (
                TierSpan(coarse, start, now - 2 * H),
                TierSpan("raw", now - 2 * H, now),
            )
            want = expected_buckets(rows, start, now, step * NS, REF[agg])
            approx_points(out[0].points, want)


def test_rate_is_continuous_across_the_seam(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    t0 = now - 6 * H
    store.write([pt("a", t0 + i * 10 * NS, {"c": float(20 * i)}, m="net") for i in range(2160)])
    store.rollup(now - 100 * MIN)
    out = store.query_range(
        RangeQuery(Selector("net", "c", ["a"]), t0 + H, now, 3600, Aggregate.RATE), now_ns=now
    )
    assert [s.tier for s in out[0].tiers] == ["1h", "raw"]
    assert [v for _, v in out[0].points] == [2.0] * 5


def test_plan_spans_walks_down_to_raw() -> None:
    now = 1_800_000_000 * NS
    now -= now % D
    start = now - 10 * D
    # 1h lags two hours behind 5m (a catch-up cut short); 1d is not considered (finer only).
    marks = {"5m": now - 20 * MIN, "1h": now - 3 * H, "1d": now - D}
    spans = plan_spans(DEFAULT_TIERS, H1, marks, start, now, 3600)
    assert [(s.tier.name, s.start_ns, s.end_ns) for s in spans] == [
        ("1h", start, now - 3 * H),
        ("5m", now - 3 * H, now - H),  # cut back to a step boundary
        ("raw", now - H, now),
    ]
    # A tier never rolled up answers nothing; raw takes all of it.
    assert [s.tier.name for s in plan_spans(DEFAULT_TIERS, M5, {}, start, now, 300)] == ["raw"]
    # A watermark past the end: the coarse tier alone.
    spans = plan_spans(DEFAULT_TIERS, H1, {"1h": now + H}, start, now, 3600)
    assert [(s.tier.name, s.end_ns) for s in spans] == [("1h", now)]
    # A step that is not a multiple of the windows: the seam is on a boundary of both.
    spans = plan_spans(DEFAULT_TIERS, M5, {"5m": now - 10 * MIN}, start, now, 420)
    assert spans[0].end_ns % (2100 * NS) == 0
    assert spans[0].end_ns <= now - 10 * MIN
    assert spans[1].start_ns == spans[0].end_ns


def test_summary_beyond_raw_retention_counts_what_is_not_rolled_up(
    store: TimeSeriesStore, clock: FakeClock
) -> None:
    now = clock.now_ns
    sel = Selector("cpu", "usage_user", ["a"])
    # A fresh install: one collection, no rollup yet; a 7 d summary still counts it.
    store.write([pt("a", now - 6 * H - 10 * NS, {"usage_user": 50.0})])
    first = store.summary(sel, now - 7 * D, now, now_ns=now)
    assert (first.count, first.avg, first.approximate) == (1, 50.0, True)
    # Rolled up 100 minutes ago: windows before that from the 5m tier, the rest raw, each
    # value counted once.
    rows = gauge(now - 6 * H, now, every_s=10, seed=12)
    write_rows(store, "a", rows)
    store.rollup(now - 100 * MIN)
    s = store.summary(sel, now - 2 * D, now, now_ns=now)
    values = [50.0] + [v for _, v in rows]
    assert s.approximate
    assert s.count == len(values)
    assert s.avg == pytest.approx(sum(values) / len(values), rel=1e-9)
    assert (s.min, s.max) == (min(values), max(values))
