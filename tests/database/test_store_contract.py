"""One suite, every store: InfluxDB (real influxd), SQLite and PostgreSQL must answer alike.

Expected values are computed here with plain loops over the data the test wrote, never
with the stores' own helpers. Time is injected (the `clock` fixture); nothing sleeps.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Iterable, Sequence

import pytest

from fleetmon_db.timeseries import (
    DEFAULT_TIERS,
    NS,
    Aggregate,
    Point,
    PointBatch,
    RangeQuery,
    Selector,
    SeriesKey,
    StoreError,
    StoreUnavailable,
    TimeSeriesStore,
    open_store,
    pick_tier,
)
from fleetmon_db.timeseries.influx import InfluxStore
from fleetmon_db.timeseries.sql import SqlStore
from fleetmon_db.timeseries.tiers import DAY, HOUR, Tier
from tests.support.clock import FakeClock
from tests.support.servers import free_port

MIN = 60 * NS
H = HOUR * NS
D = DAY * NS

EVIL = [
    "it's",
    'say "hi"',
    "back\\slash",
    "trailing\\",
    "new\nline",
    "cr\rlf\r\n",
    "tab\there",
    "semi;colon; DROP TABLE ts_raw; --",
    "' OR 1=1 --",
    '" OR "',
    "x' OR host =~ /.*/ --",
    "ünïcødé Ωμέγα",
    "emoji 🚀🔥",
    "sp ace",
    "com,ma",
    "eq=ual",
    "~b64~looks-encoded",
    "/.*/",
    "a\\,b\\ c\\=d",
]


def pt(host: str, t: int, fields: dict[str, object], m: str = "cpu", **tags: str) -> Point:
    """A point; tags as keywords."""
    return Point(host, m, t, tags, fields)  # type: ignore[arg-type]


def series(
    store: TimeSeriesStore,
    host: str,
    field: str,
    start: int,
    end: int,
    step_s: int,
    agg: Aggregate,
    now: int,
    m: str = "cpu",
    **tags: str,
) -> list[tuple[int, float | None]]:
    """The single series a range query returns (asserting there is exactly one)."""
    out = store.query_range(
        RangeQuery(Selector(m, field, [host], tags), start, end, step_s, agg), now_ns=now
    )
    assert len(out) == 1, out
    return out[0].points


def expected_buckets(
    rows: Sequence[tuple[int, float]],
    start: int,
    end: int,
    step: int,
    fn: Callable[[list[tuple[int, float]]], float],
) -> list[tuple[int, float | None]]:
    """Reference bucketing: one pass per bucket over all rows, by plain comparisons."""
    out: list[tuple[int, float | None]] = []
    b = start - start % step
    while b < end:
        inside = [(t, v) for t, v in rows if b <= t < b + step and start <= t < end]
        out.append((b, fn(inside) if inside else None))
        b += step
    return out


REF: dict[Aggregate, Callable[[list[tuple[int, float]]], float]] = {
    Aggregate.MEAN: lambda r: sum(v for _, v in r) / len(r),
    Aggregate.MIN: lambda r: min(v for _, v in r),
    Aggregate.MAX: lambda r: max(v for _, v in r),
    Aggregate.SUM: lambda r: sum(v for _, v in r),
    Aggregate.COUNT: lambda r: float(len(r)),
    Aggregate.LAST: lambda r: max(r)[1],
}


def approx_points(
    got: Iterable[tuple[int, float | None]], want: Iterable[tuple[int, float | None]]
) -> None:
    got, want = list(got), list(want)
    assert [t for t, _ in got] == [t for t, _ in want]
    for (t, g), (_, w) in zip(got, want, strict=True):
        if w is None:
            assert g is None, t
        else:
            assert g == pytest.approx(w, rel=1e-9), t


def gauge(start: int, end: int, every_s: int = 10, seed: int = 1) -> list[tuple[int, float]]:
    """Pseudo-random gauge samples in [start, end)."""
    rnd = random.Random(seed)
    return [(t, round(rnd.uniform(0, 100), 3)) for t in range(start, end, every_s * NS)]


def write_rows(
    store: TimeSeriesStore,
    host: str,
    rows: Iterable[tuple[int, float]],
    field: str = "usage_user",
    **tags: str,
) -> None:
    store.write([pt(host, t, {field: v}, **tags) for t, v in rows])


def awrite(store: TimeSeriesStore, batch: PointBatch) -> int:
    """`awrite_batch` on an event loop of its own, closed as the API's lifespan does."""

    async def go() -> int:
        try:
            return await store.awrite_batch(batch)
        finally:
            await store.aclose()

    return asyncio.run(go())


# -- writes and latest ----------------------------------------------------------------------


def test_write_and_latest(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    t1, t2 = now - 20 * MIN, now - 10 * MIN
    n = store.write(
        [
            pt("web-1", t1, {"usage_user": 1.5, "usage_system": 2.0}, cpu="cpu-total"),
            pt("web-1", t2, {"usage_user": 3.25}, cpu="cpu-total"),  # usage_system is sparse
            pt("web-1", t2, {"used": 1024, "ok": True, "cmd": 'nginx -g "daemon off;"'}, m="mem"),
            pt("web-2", t2, {"usage_user": 99.0}, cpu="cpu-total"),
            pt("web-1", t2, {"bad": float("nan"), "inf": float("inf")}, m="skip"),
        ]
    )
    assert n == 7
    got = {
        (s.key.measurement, s.key.field): (s.time_ns, s.value, s.key) for s in store.latest("web-1")
    }
    assert set(got) == {
        ("cpu", "usage_user"),
        ("cpu", "usage_system"),
        ("mem", "used"),
        ("mem", "ok"),
        ("mem", "cmd"),
    }
    assert got[("cpu", "usage_user")][:2] == (t2, 3.25)
    assert got[("cpu", "usage_system")][:2] == (t1, 2.0)
    assert got[("mem", "used")][:2] == (t2, 1024.0)
    assert got[("mem", "ok")][:2] == (t2, 1.0)
    assert got[("mem", "cmd")][:2] == (t2, 'nginx -g "daemon off;"')
    key = got[("cpu", "usage_user")][2]
    assert key == SeriesKey("web-1", "cpu", "usage_user", (("cpu", "cpu-total"),))
    assert {(s.key.field, s.time_ns) for s in store.latest("web-1", since_ns=t2 - 1)} == {
        ("usage_user", t2),
        ("used", t2),
        ("ok", t2),
        ("cmd", t2),
    }
    assert store.latest("nobody") == []


def snapshot(store: TimeSeriesStore, now: int) -> object:
    sel = Selector("cpu", "usage_user")
    return (
        [(s.key, s.value) for s in store.aggregate(sel, now - 3 * H, now, Aggregate.COUNT)],
        [(s.key, s.value) for s in store.aggregate(sel, now - 3 * H, now, Aggregate.SUM)],
        [
            (d.key, d.points)
            for d in store.query_range(
                RangeQuery(sel, now - 3 * H, now, 60, Aggregate.MEAN), now_ns=now
            )
        ],
        [(s.key, s.time_ns, s.value) for s in store.latest("a")],
    )


def test_idempotent_rewrite(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    batch = [
        pt(h, t, {"usage_user": v}, cpu="cpu0")
        for h in ("a", "b")
        for t, v in gauge(now - 2 * H, now - H)
    ]
    store.write(batch)
    before = snapshot(store, now)
    store.write(batch)
    store.write(list(reversed(batch)))
    assert snapshot(store, now) == before
    counts = store.aggregate(Selector("cpu", "usage_user"), now - 3 * H, now, Aggregate.COUNT)
    assert [s.value for s in counts] == [360.0, 360.0]


def test_latest_many_across_hosts(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    for i, h in enumerate(["h1", "h2", "h3"]):
        store.write(
            [
                pt(h, now - (30 - i) * MIN, {"usage_idle": float(i)}, cpu="cpu-total"),
                pt(h, now - (30 - i) * MIN, {"usage_idle": 50.0 + i}, cpu="cpu0"),
                pt(h, now - 40 * MIN, {"used_percent": 10.0 * i}, m="disk", path="/"),
            ]
        )
    got = store.latest_many(
        [
            Selector("cpu", "usage_idle", tags={"cpu": "cpu-total"}),
            Selector("disk", "used_percent", hosts=["h2", "h3"]),
            Selector("cpu", "usage_idle", hosts=[]),
        ],
        since_ns=now - H,
    )
    assert [(s.key.host, s.key.measurement, s.value, s.time_ns) for s in got] == [
        ("h1", "cpu", 0.0, now - 30 * MIN),
        ("h2", "cpu", 1.0, now - 29 * MIN),
        ("h2", "disk", 10.0, now - 40 * MIN),
        ("h3", "cpu", 2.0, now - 28 * MIN),
        ("h3", "disk", 20.0, now - 40 * MIN),
    ]
    assert store.latest_many([Selector("disk", "used_percent")], since_ns=now - 35 * MIN) == []
    assert store.latest_many([], since_ns=0) == []


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


# aggregate_many is an optional extension (the alert worker looks for it): only the InfluxDB
# store has it, because only there does one statement for several aggregates pay off.
@pytest.mark.parametrize("store", ["influxdb"], indirect=True)
def test_aggregate_many_matches_aggregate(store: TimeSeriesStore, clock: FakeClock) -> None:
    many = store.aggregate_many  # type: ignore[attr-defined]
    now = clock.now_ns
    start, end = now - 2 * H, now - H
    for h, seed in (("a", 3), ("b", 4), ("c", 5)):
        write_rows(store, h, gauge(start - 10 * MIN, end + 10 * MIN, seed=seed), cpu="cpu0")
    aggs = [Aggregate.MEAN, Aggregate.MAX, Aggregate.MIN, Aggregate.LAST, Aggregate.COUNT]
    for sel in (Selector("cpu", "usage_user"), Selector("cpu", "usage_user", ["a", "c"])):
        got = many(sel, start, end, aggs)
        for agg in aggs:
            assert got[agg] == store.aggregate(sel, start, end, agg), agg


def reference_percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    f, c = math.floor(k), math.ceil(k)
    if f == c:
        return s[int(k)]
    return s[f] * (c - k) + s[c] * (k - f)


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
    if isinstance(store, InfluxStore):
        # Past SUMMARY_TOP_MAX values above p95 the store asks percentile() per rank instead.
        monkeypatch.setattr("fleetmon_db.timeseries.influx.SUMMARY_TOP_MAX", 10)
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


def test_write_batch_stores_what_write_stores(store: TimeSeriesStore, clock: FakeClock) -> None:
    """The flat ingest form and plain points land alike: hostile names, every value type,
    and more points than one write request carries."""
    now = clock.now_ns

    def points(host: str) -> list[Point]:
        out = [
            pt(host, now - MIN - i, {"v": float(i), "n": i, "ok": i % 2 == 0}, cpu=f"c{i % 5}")
            for i in range(2_500)
        ]
        for i, name in enumerate(EVIL):
            out.append(Point(host, name, now - MIN, {name: name}, {name: float(i), "s": name}))
        return out

    written = store.write(points("via-write"))
    assert store.write_batch(PointBatch.of(points("via-batch"))) == written
    # From an event loop, as the API writes: one batch in several requests, and a small one.
    many, few = points("via-async"), points("via-async-small")[-len(EVIL) :]
    assert awrite(store, PointBatch.of(many)) == written
    assert awrite(store, PointBatch.of(few)) == 2 * len(EVIL)

    def seen(host: str) -> list[tuple[object, ...]]:
        got = store.latest(host)
        return sorted((s.key.measurement, s.key.field, s.key.tags, s.time_ns, s.value) for s in got)

    assert seen("via-batch") == seen("via-write")
    assert seen("via-async") == seen("via-write")
    assert len(seen("via-async-small")) == 2 * len(EVIL)
    assert len(seen("via-write")) == 5 * 3 + 2 * len(EVIL)


EXTREME_NUMBERS = {
    "tiny": 5e-324,
    "huge": 1.7976931348623157e308,
    "small": -3.5e-7,
    "e16": 1e16,
    "third": 1 / 3,
    "negzero": -0.0,
    "int_max": 2**63 - 1,
    "int_min": -(2**63),
    "big_int": 12345678901234567,
    "zero": 0,
}


@pytest.mark.parametrize("batch", [1, 2_000], ids=["one-point", "large-batch"])
def test_extreme_numbers_read_back_as_the_same_double(
    store: TimeSeriesStore, clock: FakeClock, batch: int
) -> None:
    """Shortest round-trip floats, exponents both ways and 64-bit ints survive the write path."""
    now = clock.now_ns
    filler = [pt("x", now - MIN - i, {"v": float(i)}, cpu=f"c{i % 7}") for i in range(batch - 1)]
    store.write([*filler, pt("num", now - MIN, dict(EXTREME_NUMBERS), cpu="cpu-total")])
    got = {s.key.field: s.value for s in store.latest("num")}
    assert got == {k: float(v) for k, v in EXTREME_NUMBERS.items()}


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


def rollup_reference(
    rows: list[tuple[int, float]], start: int, end: int, width: int, agg: Aggregate
) -> list[tuple[int, float | None]]:
    # Rollup tiers hold whole windows at their start: rows are bucketed by their window.
    return expected_buckets(rows, start, end, width, REF[agg])


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


def test_enforce_retention_raw(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    store.write(
        [
            pt("a", now - 2 * H + 5 * MIN, {"usage_user": 1.0}),
            pt("a", now - 10 * MIN, {"usage_user": 2.0}),
        ]
    )
    store.enforce_retention(now + 24 * H - 30 * MIN)  # raw cutoff: now - 30 min
    (s,) = store.aggregate(Selector("cpu", "usage_user"), now - 3 * H, now, Aggregate.SUM)
    assert s.value == 2.0


def test_enforce_retention_tiers(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    write_rows(store, "a", gauge(now - 3 * H, now - H))
    store.rollup(now)
    later = now + 9 * D  # raw and 5m expired, 1h (30 d) kept
    store.enforce_retention(later)
    sel = Selector("cpu", "usage_user")
    assert store.aggregate(sel, now - 4 * H, now, Aggregate.COUNT) == []
    assert store.query_range(RangeQuery(sel, now - 3 * H, now, 300), now_ns=now) == []
    (d,) = store.query_range(RangeQuery(sel, now - 3 * H, now - H, 3600), now_ns=later)
    assert d.tier == "1h"
    assert all(v is not None for _, v in d.points)


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
    store.delete_host(EVIL[8])
    assert store.hosts() == sorted([h for h in EVIL if h != EVIL[8]] + ["plain"])


# -- failures and wiring -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["influxdb", "postgresql"])
def test_unreachable_server_is_unavailable(kind: str) -> None:
    port = free_port()
    url = (
        f"http://127.0.0.1:{port}/fleetmon"
        if kind == "influxdb"
        else f"postgresql+psycopg://postgres@127.0.0.1:{port}/nothing"
    )
    s = open_store(url, timeout=2) if kind == "influxdb" else open_store(url)
    try:
        with pytest.raises(StoreUnavailable):
            s.ping()
        with pytest.raises(StoreUnavailable):
            s.write([pt("a", NS, {"x": 1.0})])
        with pytest.raises(StoreUnavailable):
            s.latest("a")
    finally:
        s.close()


def test_influx_rejection_is_store_error_with_message(influx_server: object) -> None:
    s = open_store(f"{influx_server.url}/no_such_db")  # type: ignore[attr-defined]
    try:
        with pytest.raises(StoreError, match="database not found") as info:
            s.write([pt("a", NS, {"x": 1.0})])
        assert not isinstance(info.value, StoreUnavailable)
    finally:
        s.close()


def test_open_store_urls(tmp_path: object) -> None:
    s = open_store("http://u%40x:p%3Aw@127.0.0.1:1/fleet%20db?token=tok")
    assert isinstance(s, InfluxStore)
    assert s.database == "fleet db"
    s.close()
    s = open_store("https://127.0.0.1:1/db", influx_token="t2")
    assert isinstance(s, InfluxStore)
    assert s.database == "db"
    s.close()
    s = open_store(f"sqlite:///{tmp_path}/x.db", tiers=(Tier("raw", 0, 3600), Tier("1m", 60, 7200)))
    assert isinstance(s, SqlStore)
    assert s.name == "sqlite"
    assert [t.name for t in s.tiers] == ["raw", "1m"]
    s.close()
