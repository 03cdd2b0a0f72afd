"""Store suite, reads: latest values, range queries, window aggregates, hosts and series,
and hostile names that must neither break a query nor reach another host's data."""

from __future__ import annotations

import pytest

from fleetmon_db.timeseries import (
    NS,
    Aggregate,
    RangeQuery,
    Selector,
    SeriesKey,
    StoreError,
    TimeSeriesStore,
)
from tests.database.helpers import (
    EVIL,
    MIN,
    REF,
    H,
    approx_points,
    expected_buckets,
    gauge,
    pt,
    series,
    write_rows,
)
from tests.support.clock import FakeClock

# -- range queries, aggregates, summaries ------------------------------------------------------


@pytest.mark.parametrize("agg", [a for a in Aggregate if a is not Aggregate.RATE])
def test_query_range_each_aggregate(
    store: TimeSeriesStore, clock: FakeClock, agg: Aggregate
) -> None:
    now = clock.now_ns
    rows = gauge(now - 2 * H, now - H + 7 * MIN, every_s=10)
    write_rows(store, "a", rows, cpu="cpu0")
    write_rows(store, "b", gauge(now - 2 * H, now - H), cpu="cpu0")  # must not leak into "a"
    start, end = now - 2 * H + 30 * NS, now - H + 5 * MIN  # unaligned start, partial buckets
    got = series(store, "a", "usage_user", start, end, 120, agg, now, cpu="cpu0")
    approx_points(got, expected_buckets(rows, start, end, 120 * NS, REF[agg]))


def test_rate_of_counter_with_reset(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    t0 = now - 3 * H
    # +10 every 10 s (1/s); the counter restarts from 0 at the start of minute 5.
    rows = [(t0 + i * 10 * NS, float(10 * i if i < 30 else 10 * (i - 30))) for i in range(60)]
    store.write([pt("a", t, {"bytes_recv": v}, m="net", interface="eth0") for t, v in rows])
    got = series(
        store,
        "a",
        "bytes_recv",
        t0,
        t0 + 10 * MIN,
        60,
        Aggregate.RATE,
        now,
        m="net",
        interface="eth0",
    )
    assert [t for t, _ in got] == [t0 + i * MIN for i in range(10)]
    assert [v for _, v in got] == [None, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    # Starting mid-series, the first bucket's rate uses the bucket before the range.
    got = series(
        store,
        "a",
        "bytes_recv",
        t0 + 2 * MIN,
        t0 + 4 * MIN,
        60,
        Aggregate.RATE,
        now,
        m="net",
        interface="eth0",
    )
    assert [v for _, v in got] == [1.0, 1.0]


def test_aggregate_over_window(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    start, end = now - 2 * H, now - H
    a = gauge(start - 10 * MIN, end + 10 * MIN, seed=3)
    write_rows(store, "a", a, cpu="cpu0")
    store.write([pt("a", start + i * 10 * NS, {"c": float(5 * i)}, m="net") for i in range(361)])
    inside = [(t, v) for t, v in a if start <= t < end]
    sel = Selector("cpu", "usage_user", ["a"])
    for agg, want in [
        (Aggregate.MEAN, sum(v for _, v in inside) / len(inside)),
        (Aggregate.MAX, max(v for _, v in inside)),
        (Aggregate.MIN, min(v for _, v in inside)),
        (Aggregate.COUNT, float(len(inside))),
        (Aggregate.LAST, inside[-1][1]),
    ]:
        (s,) = store.aggregate(sel, start, end, agg)
        assert s.time_ns == end
        assert s.value == pytest.approx(want, rel=1e-9), agg
    (r,) = store.aggregate(Selector("net", "c"), start, end, Aggregate.RATE)
    assert r.value == pytest.approx(0.5)  # samples at start .. end-10s: 5 per 10 s


# Every store answers aggregate_many (the contract's default asks one aggregate at a time;
# InfluxDB overrides it with one statement): the same samples as one call per aggregate.
def test_aggregate_many_matches_aggregate(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    start, end = now - 2 * H, now - H
    for h, seed in (("a", 3), ("b", 4), ("c", 5)):
        write_rows(store, h, gauge(start - 10 * MIN, end + 10 * MIN, seed=seed), cpu="cpu0")
    aggs = [*Aggregate, Aggregate.MAX]  # every aggregate, one of them twice
    for sel, hosts in (
        (Selector("cpu", "usage_user"), 3),
        (Selector("cpu", "usage_user", ["a", "c"], {"cpu": "cpu0"}), 2),
        (Selector("cpu", "usage_user", []), 0),
    ):
        got = store.aggregate_many(sel, start, end, aggs)
        assert set(got) == set(aggs)
        for agg in aggs:
            assert got[agg] == store.aggregate(sel, start, end, agg), agg
            assert len(got[agg]) == hosts, agg


def test_latest_many_skips_an_empty_scope_anywhere(
    store: TimeSeriesStore, clock: FakeClock
) -> None:
    """A selector that selects no host asks nothing, wherever it stands among the others."""
    now = clock.now_ns
    store.write(
        [
            pt("h1", now - MIN, {"usage_idle": 7.0}, cpu="cpu-total"),
            pt("h1", now - MIN, {"free": 5.0}, m="disk", path="/"),
        ]
    )
    nobody = Selector("cpu", "usage_idle", hosts=[])
    for selectors in (
        [nobody, Selector("disk", "free")],
        [Selector("disk", "free"), nobody, Selector("cpu", "usage_idle")],
    ):
        got = store.latest_many(selectors, since_ns=now - H)
        want = {("disk", "free", 5.0)} | (
            {("cpu", "usage_idle", 7.0)} if len(selectors) == 3 else set()
        )
        assert {(s.key.measurement, s.key.field, s.value) for s in got} == want


def test_latest_many_many_hosts_and_hostile_tags(store: TimeSeriesStore, clock: FakeClock) -> None:
    """Every host's latest value in one call; tag values are matched and returned verbatim."""
    now = clock.now_ns
    points = []
    for i in range(300):
        h = f"host-{i:03d}"
        for k in range(3):
            t = now - (10 - k) * MIN - i * NS
            points.append(pt(h, t, {"usage_idle": float(i * 10 + k)}, cpu="cpu-total"))
            points.append(pt(h, t, {"usage_idle": -1.0}, cpu="cpu0"))
    for i, h in enumerate(EVIL):
        points.append(pt(f"evil-{i}", now - MIN, {"used_percent": float(i)}, m="disk", path=h))
    store.write(points)
    got = store.latest_many(
        [
            Selector("cpu", "usage_idle", tags={"cpu": "cpu-total"}),
            Selector("disk", "used_percent"),
        ],
        since_ns=now - H,
    )
    cpu = {s.key.host: (s.value, s.time_ns) for s in got if s.key.measurement == "cpu"}
    assert len(cpu) == 300
    for i in range(300):
        assert cpu[f"host-{i:03d}"] == (float(i * 10 + 2), now - 8 * MIN - i * NS)
    disk = {s.key.tag_dict["path"]: s.value for s in got if s.key.measurement == "disk"}
    assert disk == {h: float(i) for i, h in enumerate(EVIL)}
    for i, h in enumerate(EVIL):
        # A hostile tag value as a filter matches exactly its own series and nothing else.
        (only,) = store.latest_many([Selector("disk", "used_percent", tags={"path": h})], now - H)
        assert (only.key.host, only.key.tag_dict, only.value) == (
            f"evil-{i}",
            {"path": h},
            float(i),
        )


# -- hosts, series, deletion ----------------------------------------------------------------------


def test_hosts_series_and_delete_host(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    for h in ("alpha", "beta"):
        store.write(
            [
                pt(h, t, {"usage_user": 1.0, "usage_system": 2.0}, cpu="cpu0")
                for t in range(now - 2 * H, now - H, MIN)
            ]
        )
        store.write([pt(h, now - H, {"free": 5.0}, m="disk", path="/", fstype="ext4")])
    assert store.hosts() == ["alpha", "beta"]
    assert store.series("alpha") == [
        SeriesKey("alpha", "cpu", "usage_system", (("cpu", "cpu0"),)),
        SeriesKey("alpha", "cpu", "usage_user", (("cpu", "cpu0"),)),
        SeriesKey("alpha", "disk", "free", (("fstype", "ext4"), ("path", "/"))),
    ]
    store.rollup(now)
    if not store.capabilities.deletes_hosts:  # InfluxDB 3.x: refused, nothing changed
        with pytest.raises(StoreError, match="cannot delete"):
            store.delete_host("alpha")
        assert store.hosts() == ["alpha", "beta"]
        return
    store.delete_host("alpha")
    assert store.hosts() == ["beta"]
    assert store.series("alpha") == []
    assert store.latest("alpha") == []
    for step in (60, 300, 3600):  # raw, 5m and 1h tiers
        got = store.query_range(
            RangeQuery(Selector("cpu", "usage_user"), now - 3 * H, now, step, Aggregate.MEAN),
            now_ns=now,
        )
        assert [d.key.host for d in got] == ["beta"], step
    assert len(store.latest("beta")) == 3


# -- hostile names ------------------------------------------------------------------------------


def test_hostile_names_roundtrip_and_isolation(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    t = now - 30 * MIN
    points = [pt(h, t, {"usage_user": float(i)}, cpu=h, empty="") for i, h in enumerate(EVIL)]
    points.append(pt("plain", t, {EVIL[2]: 1.0, EVIL[0]: 2.0}, m=EVIL[4], **{EVIL[5]: EVIL[3]}))
    store.write(points)
    assert store.hosts() == sorted([*EVIL, "plain"])
    for i, h in enumerate(EVIL):
        (s,) = store.latest(h)
        assert s.key == SeriesKey(h, "cpu", "usage_user", (("cpu", h), ("empty", "")))
        assert (s.value, s.time_ns) == (float(i), t)
        assert store.series(h) == [s.key]
        (d,) = store.query_range(
            RangeQuery(Selector("cpu", "usage_user", [h]), t, t + MIN, 60), now_ns=now
        )
        assert d.key.host == h
        assert d.points == [(t, float(i))]
        (d,) = store.query_range(
            RangeQuery(Selector("cpu", "usage_user", tags={"cpu": h}), t, t + MIN, 60), now_ns=now
        )
        assert d.key.host == h
        (a,) = store.aggregate(
            Selector("cpu", "usage_user", [h], {"cpu": h}), t, t + 1, Aggregate.MAX
        )
        assert a.value == float(i)
        assert store.summary(Selector("cpu", "usage_user", [h]), t, t + 1, now_ns=now).count == 1
    got = {(s.key.measurement, s.key.field, s.key.tags) for s in store.latest("plain")}
    assert got == {
        (EVIL[4], EVIL[2], ((EVIL[5], EVIL[3]),)),
        (EVIL[4], EVIL[0], ((EVIL[5], EVIL[3]),)),
    }
    many = store.latest_many([Selector("cpu", "usage_user", [EVIL[8], EVIL[9]])], now - H)
    assert sorted(s.key.host for s in many) == sorted([EVIL[8], EVIL[9]])
    # Many hosts in one aggregate (a rule's scope): each exactly, however hostile its name.
    every = store.aggregate(Selector("cpu", "usage_user", list(EVIL)), t, t + 1, Aggregate.MAX)
    assert sorted(s.key.host for s in every) == sorted(EVIL)
    some = store.aggregate(Selector("cpu", "usage_user", EVIL[2:5]), t, t + 1, Aggregate.LAST)
    assert {s.key.host: s.value for s in some} == {h: float(EVIL.index(h)) for h in EVIL[2:5]}
    for probe in ["nobody' OR '1'='1", 'x" OR "1"="1', "' OR host =~ /.*/ OR host = '", "\\"]:
        assert store.latest(probe) == []
        sel = Selector("cpu", "usage_user", [probe, "plain"])
        assert store.aggregate(sel, t, t + 1, Aggregate.MAX) == []
        assert (
            store.query_range(
                RangeQuery(Selector("cpu", "usage_user", [probe]), t, t + MIN, 60), now_ns=now
            )
            == []
        )
        assert (
            store.query_range(
                RangeQuery(Selector("cpu", "usage_user", tags={"cpu": probe}), t, t + MIN, 60),
                now_ns=now,
            )
            == []
        )
    if not store.capabilities.deletes_hosts:
        return
    store.delete_host(EVIL[8])
    assert store.hosts() == sorted([h for h in EVIL if h != EVIL[8]] + ["plain"])
