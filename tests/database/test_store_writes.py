"""Store suite, writes: every store stores the same points alike, idempotently, from threads
or from an event loop."""

from __future__ import annotations

import pytest

from fleetmon_db.timeseries import (
    Aggregate,
    Point,
    PointBatch,
    RangeQuery,
    Selector,
    SeriesKey,
    TimeSeriesStore,
)
from tests.database.helpers import EVIL, MIN, H, awrite, gauge, pt
from tests.support.clock import FakeClock


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
