"""Store suite, summaries: exact percentiles on raw data (every store to the bit), estimates
on rollups."""

from __future__ import annotations

import random

import pytest

from fleetmon_db.timeseries import NS, Selector, TimeSeriesStore
from tests.database.helpers import MIN, D, H, gauge, reference_percentile, write_rows
from tests.support.clock import FakeClock


def test_summary_exact(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    start, end = now - 3 * H, now - H
    rnd = random.Random(11)
    values: list[float] = []
    for host in ("a", "b"):
        rows = [(t, round(rnd.lognormvariate(1, 1), 4)) for t in range(start, end, 17 * NS)]
        write_rows(store, host, rows, cpu="cpu0")
        values += [v for _, v in rows]
    write_rows(store, "c", [(start + NS, 1e9)], cpu="cpu0")  # another host: excluded below
    s = store.summary(Selector("cpu", "usage_user", ["a", "b"]), start, end, now_ns=now)
    assert s.count == len(values)
    assert not s.approximate
    assert s.avg == pytest.approx(sum(values) / len(values), rel=1e-9)
    assert (s.min, s.max) == (min(values), max(values))
    assert s.p95 == pytest.approx(reference_percentile(values, 0.95), rel=1e-12)
    assert s.p99 == pytest.approx(reference_percentile(values, 0.99), rel=1e-12)
    empty = store.summary(Selector("cpu", "usage_user", ["zzz"]), start, end, now_ns=now)
    assert (empty.count, empty.avg, empty.p95) == (0, None, None)


def test_summary_ties_and_many_values(
    store: TimeSeriesStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exact percentiles with many tied values, across hosts sharing timestamps."""
    now = clock.now_ns
    start, end = now - 6 * H, now - MIN
    rnd = random.Random(3)
    values: list[float] = []
    for host in ("t1", "t2", "t3"):
        # Few distinct values: the ranks around p95/p99 fall inside runs of equal values.
        rows = [
            (t, float(rnd.choice([1, 2, 2, 3, 5, 8, 8, 8, 13]))) for t in range(start, end, 5 * NS)
        ]
        write_rows(store, host, rows, cpu="cpu-total")
        values += [v for _, v in rows]
    sel = Selector("cpu", "usage_user", ["t1", "t2", "t3"])
    want95, want99 = reference_percentile(values, 0.95), reference_percentile(values, 0.99)
    s = store.summary(sel, start, end, now_ns=now)
    assert (s.count, s.approximate) == (len(values), False)
    assert s.p95 == pytest.approx(want95, rel=1e-12)
    assert s.p99 == pytest.approx(want99, rel=1e-12)
    # Asked again (InfluxDB: one round trip sized from the last count), and again after the
    # count grew by a third (the speculative size falls short: the exact path still answers).
    assert store.summary(sel, start, end, now_ns=now) == s
    more = [(t + NS, float(rnd.choice([0, 4, 21]))) for t in range(start, end, 15 * NS)]
    write_rows(store, "t2", more, cpu="cpu-total")
    grown = values + [v for _, v in more]
    s_grown = store.summary(sel, start, end, now_ns=now)
    assert s_grown.count == len(grown)
    assert s_grown.p95 == pytest.approx(reference_percentile(grown, 0.95), rel=1e-12)
    assert s_grown.p99 == pytest.approx(reference_percentile(grown, 0.99), rel=1e-12)
    assert store.summary(sel, start, end, now_ns=now) == s_grown
    values, s = grown, s_grown
    if store.name == "influxdb":
        # Past SUMMARY_TOP_MAX values above p95 the store asks percentile() per rank instead.
        monkeypatch.setattr("fleetmon_db.timeseries.influx.summary.SUMMARY_TOP_MAX", 10)
        s2 = store.summary(sel, start, end, now_ns=now)
        assert (s2.count, s2.p95, s2.p99) == (s.count, s.p95, s.p99)
    # One value less than a whole number of steps: p99 interpolates between two ranks.
    vals = [float(i) for i in range(1, 302)]
    write_rows(store, "lin", [(start + i * NS, v) for i, v in enumerate(vals)], cpu="cpu0")
    s3 = store.summary(Selector("cpu", "usage_user", ["lin"]), start, end, now_ns=now)
    assert s3.p95 == pytest.approx(reference_percentile(vals, 0.95), rel=1e-12)
    assert s3.p99 == pytest.approx(reference_percentile(vals, 0.99), rel=1e-12)


def test_summary_raw_exact_rollup_approximate(store: TimeSeriesStore, clock: FakeClock) -> None:
    """Within raw retention: exact; beyond it: rollups, flagged approximate, same avg/min/max."""
    now = clock.now_ns
    rows = gauge(now - 4 * H, now - 2 * H, every_s=5, seed=9)
    write_rows(store, "r", rows, cpu="cpu-total")
    store.rollup(now)
    start, end = now - 4 * H, now - 2 * H
    vals = [v for _, v in rows]
    sel = Selector("cpu", "usage_user", ["r"])
    raw = store.summary(sel, start, end, now_ns=now)
    assert not raw.approximate
    assert raw.count == len(vals)
    assert raw.p95 == pytest.approx(reference_percentile(vals, 0.95), rel=1e-12)
    assert raw.p99 == pytest.approx(reference_percentile(vals, 0.99), rel=1e-12)
    # Two days later the range is past raw retention: the 5-minute tier answers.
    later = store.summary(sel, start, end, now_ns=now + 2 * D)
    assert later.approximate
    assert later.count == len(vals)
    assert later.avg == pytest.approx(raw.avg, rel=1e-9)
    assert (later.min, later.max) == (raw.min, raw.max)
    assert later.p95 is not None
    assert later.p99 is not None
    assert min(vals) <= later.p95 <= later.p99 <= max(vals)
