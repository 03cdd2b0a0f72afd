"""Store suite, tiers and rollups: the shared scheduler over every store's backend."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from fleetmon_db.timeseries import (
    DEFAULT_TIERS,
    NS,
    Aggregate,
    PointBatch,
    RangeQuery,
    Selector,
    StoreUnavailable,
    TimeSeriesStore,
    pick_tier,
)
from fleetmon_db.timeseries.influx import InfluxStore
from fleetmon_db.timeseries.influx.rollup import InfluxRollupBackend
from fleetmon_db.timeseries.rollup import DirtyClaim, RollupBackend, RollupScheduler, RollupStep
from fleetmon_db.timeseries.tiers import Tier
from tests.database.helpers import (
    MIN,
    D,
    H,
    approx_points,
    awrite,
    gauge,
    pt,
    rollup_reference,
    series,
    write_rows,
)
from tests.support.clock import FakeClock

# -- tiers and rollups --------------------------------------------------------------------------


def test_pick_tier() -> None:
    now = 1_800_000_000 * NS
    names = lambda start, step: pick_tier(DEFAULT_TIERS, start, step, now).name  # noqa: E731
    assert names(now - H, 10) == "raw"
    assert names(now - H, 299) == "raw"
    assert names(now - H, 300) == "5m"
    assert names(now - H, 3600) == "1h"
    assert names(now - H, 7200) == "1h"
    assert names(now - H, 86_400) == "1d"
    assert names(now - 2 * D, 60) == "5m"  # raw no longer reaches back: finest that does
    assert names(now - 10 * D, 300) == "1h"
    assert names(now - 40 * D, 300) == "1d"
    assert names(now - 400 * D, 300) == "1d"  # nothing covers it: the longest retention
    # A range of exactly a retention, served a moment later, keeps its tier.
    assert names(now - D - 30 * NS, 10) == "raw"
    assert names(now - 30 * D - 30 * NS, 3600) == "1h"
    assert names(now - 30 * D - 2 * H, 3600) == "1d"
    assert pick_tier(DEFAULT_TIERS, now - H, 0, now).name == "raw"


@pytest.mark.parametrize(
    "agg", [Aggregate.MEAN, Aggregate.MIN, Aggregate.MAX, Aggregate.COUNT, Aggregate.SUM]
)
def test_rollup_tiers_match_raw(store: TimeSeriesStore, clock: FakeClock, agg: Aggregate) -> None:
    now = clock.now_ns
    rows = gauge(now - 3 * H, now - H, every_s=10, seed=5)
    write_rows(store, "a", rows, cpu="cpu0")
    write_rows(store, "b", gauge(now - 3 * H, now - H, seed=6), cpu="cpu0")
    report = store.rollup(now)
    assert report.windows["5m"] > 0
    assert report.windows["1h"] > 0
    start, end = now - 3 * H, now - H
    for step, tier in ((300, "5m"), (3600, "1h"), (1800, "5m")):
        out = store.query_range(
            RangeQuery(
                Selector("cpu", "usage_user", ["a"], {"cpu": "cpu0"}), start, end, step, agg
            ),
            now_ns=now,
        )
        assert len(out) == 1
        assert out[0].tier == tier
        approx_points(out[0].points, rollup_reference(rows, start, end, step * NS, agg))
    # Close the day windows that hold the data: the 1d tier matches raw too.
    later = (rows[-1][0] - rows[-1][0] % D) + D + 2 * H
    store.rollup(later)
    days = rows[0][0] - rows[0][0] % D
    out = store.query_range(
        RangeQuery(Selector("cpu", "usage_user", ["a"]), days, later - 2 * H, 86_400, agg),
        now_ns=later,
    )
    assert out[0].tier == "1d"
    approx_points(out[0].points, rollup_reference(rows, days, later - 2 * H, D, agg))
    # Summary beyond raw retention comes from rollups: exact avg/min/max/count, flagged.
    s = store.summary(Selector("cpu", "usage_user", ["a"]), start, end, now_ns=now + 2 * D)
    vals = [v for _, v in rows]
    assert s.approximate
    assert s.count == len(vals)
    assert s.avg == pytest.approx(sum(vals) / len(vals), rel=1e-9)
    assert (s.min, s.max) == (min(vals), max(vals))


def test_rollup_rate_uses_max(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    t0 = now - 3 * H
    store.write([pt("a", t0 + i * 10 * NS, {"c": float(20 * i)}, m="net") for i in range(720)])
    store.rollup(now)
    got = series(store, "a", "c", t0 + H, t0 + 2 * H, 300, Aggregate.RATE, now, m="net")
    assert [v for _, v in got] == [2.0] * 12


def range_snapshot(store: TimeSeriesStore, now: int) -> object:
    return [
        (d.tier, d.key, d.points)
        for step in (300, 3600)
        for d in store.query_range(
            RangeQuery(Selector("cpu", "usage_user"), now - 4 * H, now, step, Aggregate.MEAN),
            now_ns=now,
        )
    ]


def test_rollup_twice_changes_nothing(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    write_rows(store, "a", gauge(now - 3 * H, now - H), cpu="cpu0")
    first = store.rollup(now)
    before = range_snapshot(store, now)
    second = store.rollup(now)
    assert all(n == 0 for n in second.windows.values()), second
    assert set(second.windows) == set(first.windows) == {"5m", "1h", "1d"}
    assert range_snapshot(store, now) == before


def test_rollup_catches_up_after_downtime(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    rows = gauge(now - 4 * H, now, seed=9)
    write_rows(store, "a", rows, cpu="cpu0")
    store.rollup(now - 2 * H)
    report = store.rollup(now)  # two hours of downtime: many windows in one run
    assert report.windows["5m"] == 24
    assert report.windows["1h"] == 2
    start, end = now - 4 * H, now - 5 * MIN
    got = series(store, "a", "usage_user", start, end, 300, Aggregate.MEAN, now, cpu="cpu0")
    approx_points(got, rollup_reference(rows, start, end, 300 * NS, Aggregate.MEAN))
    got = series(store, "a", "usage_user", start, now - H, 3600, Aggregate.MAX, now, cpu="cpu0")
    approx_points(got, rollup_reference(rows, start, now - H, H, Aggregate.MAX))


@pytest.mark.parametrize("via", ["write", "awrite_batch"])
def test_backfilled_late_data_recomputes_windows(
    store: TimeSeriesStore, clock: FakeClock, via: str
) -> None:
    now = clock.now_ns
    gap = now - 2 * H + 10 * MIN  # a 5m window with no data at first
    rows = [r for r in gauge(now - 3 * H, now - H, seed=4) if not gap <= r[0] < gap + 5 * MIN]
    write_rows(store, "a", rows, cpu="cpu0")
    store.rollup(now)
    late = [(gap + 30 * NS, 500.0), (gap + 90 * NS, 700.0), (now - 3 * H + 5 * NS, -50.0)]
    # The clock says these windows are closed.
    if via == "write":
        write_rows(store, "a", late, cpu="cpu0")
    else:
        batch = PointBatch.of([pt("a", t, {"usage_user": v}, cpu="cpu0") for t, v in late])
        assert awrite(store, batch) == len(late)
    clock.now_ns = now + 5 * MIN
    report = store.rollup(now)
    assert report.windows["5m"] == 2
    allrows = sorted(rows + late)
    start, end = now - 3 * H, now - H
    for agg in (Aggregate.MEAN, Aggregate.MAX, Aggregate.MIN, Aggregate.COUNT):
        got = series(store, "a", "usage_user", start, end, 300, agg, now, cpu="cpu0")
        approx_points(got, rollup_reference(allrows, start, end, 300 * NS, agg))
        got = series(store, "a", "usage_user", start, end, 3600, agg, now, cpu="cpu0")
        approx_points(got, rollup_reference(allrows, start, end, H, agg))
    assert all(n == 0 for n in store.rollup(now).windows.values())


# -- a failing rollup range is retried, its windows kept ---------------------------------------


class FailingRolls:
    """A store's own rollup backend whose `roll` raises once, on its `fail_at`-th call (what
    a store that drops the connection mid-run does to the scheduler)."""

    def __init__(self, inner: RollupBackend[Any], fail_at: int) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.rolls = 0

    @contextmanager
    def step(self) -> Iterator[RollupStep[Any]]:
        with self.inner.step() as step:
            yield _FailingStep(step, self)


class _FailingStep:
    def __init__(self, step: RollupStep[Any], owner: FailingRolls) -> None:
        self._step, self._owner = step, owner

    def watermarks(self) -> dict[str, int]:
        return self._step.watermarks()

    def set_watermark(self, tier: str, end_ns: int) -> None:
        self._step.set_watermark(tier, end_ns)

    def claim_dirty(self, tier: str) -> DirtyClaim:
        return self._step.claim_dirty(tier)

    def mark_dirty(self, tier: str, windows: Collection[int]) -> None:
        self._step.mark_dirty(tier, windows)

    def first_time(self, src: Tier) -> int | None:
        return self._step.first_time(src)

    def sources(self, src: Tier) -> Any:
        return self._step.sources(src)

    def roll(self, src: Tier, dst: Tier, start_ns: int, end_ns: int, sources: Any) -> None:
        self._owner.rolls += 1
        if self._owner.rolls == self._owner.fail_at:
            raise StoreUnavailable("connection lost (injected)")
        self._step.roll(src, dst, start_ns, end_ns, sources)


def test_failed_catch_up_chunk_is_rolled_up_by_the_next_run(
    store: TimeSeriesStore, clock: FakeClock
) -> None:
    now = clock.now_ns
    rows = gauge(now - 4 * H, now, seed=13)
    clock.now_ns = now - 4 * H  # written before any of their windows closed: none is dirty
    write_rows(store, "a", rows, cpu="cpu0")
    clock.now_ns = now
    store.rollup(now - 2 * H)  # 5m watermark: now - 2h - 5min
    real = store.rollups.backend
    # 24 closed 5m windows to catch up, 20 per chunk: the second chunk (4 windows) fails.
    failing = store.rollups.backend = FailingRolls(real, fail_at=2)
    with pytest.raises(StoreUnavailable, match="injected"):
        store.rollup(now)
    assert failing.rolls == 2
    store.rollups.backend = real
    report = store.rollup(now)
    assert report.windows["5m"] == 4  # the failed chunk's windows, no more, no fewer
    assert report.windows["1h"] == 2
    start, end = now - 4 * H, now - 5 * MIN
    for agg in (Aggregate.MEAN, Aggregate.COUNT):
        got = series(store, "a", "usage_user", start, end, 300, agg, now, cpu="cpu0")
        approx_points(got, rollup_reference(rows, start, end, 300 * NS, agg))
        got = series(store, "a", "usage_user", start, now - H, 3600, agg, now, cpu="cpu0")
        approx_points(got, rollup_reference(rows, start, now - H, H, agg))


def test_failed_recompute_of_dirty_windows_keeps_them_dirty(
    store: TimeSeriesStore, clock: FakeClock
) -> None:
    now = clock.now_ns
    gap = now - 2 * H + 10 * MIN
    rows = [r for r in gauge(now - 3 * H, now - H, seed=8) if not gap <= r[0] < gap + 5 * MIN]
    write_rows(store, "a", rows, cpu="cpu0")
    store.rollup(now)
    late = [(gap + 30 * NS, 900.0), (now - 3 * H + 5 * NS, -90.0)]
    write_rows(store, "a", late, cpu="cpu0")  # marks two closed 5m windows dirty
    real = store.rollups.backend
    store.rollups.backend = FailingRolls(real, fail_at=1)
    with pytest.raises(StoreUnavailable, match="injected"):
        store.rollup(now)
    store.rollups.backend = real
    assert store.rollup(now).windows["5m"] == 2  # still claimable: recomputed now
    allrows = sorted(rows + late)
    start, end = now - 3 * H, now - H
    for step, width in ((300, 300 * NS), (3600, H)):
        got = series(store, "a", "usage_user", start, end, step, Aggregate.MIN, now, cpu="cpu0")
        approx_points(got, rollup_reference(allrows, start, end, width, Aggregate.MIN))
    assert all(n == 0 for n in store.rollup(now).windows.values())


@pytest.mark.parametrize("store", ["influxdb"], indirect=True)
def test_influx_raced_mark_is_recomputed_up_the_cascade(
    store: TimeSeriesStore, clock: FakeClock
) -> None:
    """A dirty mark that becomes visible after a run claimed past its generation (its write
    raced with the claim) is rechecked by the next run, and so are the coarser windows."""
    assert isinstance(store, InfluxStore)
    now = clock.now_ns
    gap = now - 2 * H + 10 * MIN
    rows = [r for r in gauge(now - 3 * H, now - H, seed=2) if not gap <= r[0] < gap + 5 * MIN]
    write_rows(store, "a", rows, cpu="cpu0")
    write_rows(store, "a", [(now - 3 * H + NS, 1.0)], cpu="cpu0")  # late: a mark to claim
    store.rollup(now)
    backend = store.rollups.backend
    assert isinstance(backend, InfluxRollupBackend)
    _, gen = backend.read_state()["5m"]
    assert gen > 0
    # The late points as a racing writer leaves them: its mark stamped before the last claim.
    late = [(gap + 30 * NS, 900.0), (gap + 40 * NS, 950.0)]
    store.lines.write_batch(
        PointBatch.of([pt("a", t, {"usage_user": v}, cpu="cpu0") for t, v in late]), "raw"
    )
    store.lines.post(f"_fleetmon_dirty,tier=5m gen={gen - NS}i {gap}\n".encode(), "1d")
    report = store.rollup(now)
    assert report.windows["5m"] == 0  # a recheck is silent
    allrows = sorted([*rows, (now - 3 * H + NS, 1.0), *late])
    start, end = now - 3 * H, now - H
    for step, width in ((300, 300 * NS), (3600, H)):
        got = series(store, "a", "usage_user", start, end, step, Aggregate.MAX, now, cpu="cpu0")
        approx_points(got, rollup_reference(allrows, start, end, width, Aggregate.MAX))


def test_the_next_run_is_due_when_the_finest_window_closes() -> None:
    """A 5m window [12:00, 12:05) closes at 12:06 (60 s of delay): a job asked at 12:03:30
    waits 150 s, one asked at 12:06:00 exactly waits for the next close (12:11)."""
    backend: Any = None  # not asked: the schedule is arithmetic on the tiers
    sched: RollupScheduler[Any] = RollupScheduler(backend, DEFAULT_TIERS, delay_s=60)
    noon = 1_800_000_000 * NS // (3600 * NS) * (3600 * NS)
    assert sched.until_next_close_s(noon + 210 * NS) == 150.0
    assert sched.until_next_close_s(noon + 360 * NS) == 300.0
    assert sched.until_next_close_s(noon + 359 * NS) == 1.0
    assert RollupScheduler(backend, DEFAULT_TIERS[:1]).until_next_close_s(noon) is None


@pytest.mark.parametrize("store", ["influxdb"], indirect=True)
def test_influx_first_run_starts_where_the_data_begins(
    store: TimeSeriesStore, clock: FakeClock
) -> None:
    """A fresh store whose data began two hours ago: the first run rolls those two hours,
    not the day of empty windows before them (one request per window and host group), and
    the windows it rolled match the raw data."""
    assert isinstance(store, InfluxStore)
    now = clock.now_ns
    rows = gauge(now - 2 * H, now - 10 * MIN, seed=5)
    write_rows(store, "a", rows, cpu="cpu0")
    write_rows(store, "b", rows[len(rows) // 2 :], cpu="cpu0")  # began an hour later
    backend = store.rollups.backend
    assert isinstance(backend, InfluxRollupBackend)
    assert backend.first_time(DEFAULT_TIERS[0]) == rows[0][0]
    requests = 0
    query = backend.client.query

    def counting(statements: list[str], **kw: Any) -> Any:
        nonlocal requests
        requests += 1
        return query(statements, **kw)

    backend.client.query = counting  # type: ignore[method-assign,assignment]
    report = store.rollup(now)
    assert report.windows["5m"] <= 2 * 12 + 1, report.windows
    assert requests < 60, requests  # a day of 5m windows alone was 288 requests
    start, end = now - 2 * H, now - 15 * MIN
    got = series(store, "a", "usage_user", start, end, 300, Aggregate.MAX, now, cpu="cpu0")
    approx_points(got, rollup_reference(rows, start, end, 300 * NS, Aggregate.MAX))


def test_first_run_watermark_follows_what_the_store_says() -> None:
    """Where the first run starts: the window of the oldest point; the close of the last
    window when the source is empty; the retention's start when the store cannot tell (0)."""
    noon = 1_800_000_000 * NS // H * H

    class Step:
        def __init__(self, first: int | None) -> None:
            self.first, self.marks = first, {}  # type: ignore[var-annotated]

        def watermarks(self) -> dict[str, int]:
            return dict(self.marks)

        def set_watermark(self, tier: str, end_ns: int) -> None:
            self.marks.setdefault(tier, end_ns)

        def claim_dirty(self, tier: str) -> DirtyClaim:
            return DirtyClaim(frozenset())

        def mark_dirty(self, tier: str, windows: Collection[int]) -> None:
            pass

        def first_time(self, src: Tier) -> int | None:
            return self.first

        def sources(self, src: Tier) -> None:
            return None

        def roll(self, src: Tier, dst: Tier, start_ns: int, end_ns: int, sources: None) -> None:
            pass

    def first_watermark(first: int | None) -> int:
        step = Step(first)

        class Backend:
            @contextmanager
            def step(self) -> Iterator[Step]:
                yield step

        RollupScheduler(Backend(), DEFAULT_TIERS, delay_s=60).run(noon + 7 * MIN)
        return int(step.marks["5m"])

    assert first_watermark(noon - 2 * H + 7 * MIN) == noon - 2 * H + 5 * MIN
    assert first_watermark(None) == noon + 5 * MIN  # [12:00, 12:05) closed at 12:06: all empty
    assert first_watermark(0) == noon - D + 5 * MIN  # where the raw tier's retention begins
