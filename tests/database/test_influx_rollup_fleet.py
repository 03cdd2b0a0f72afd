"""InfluxDB rollups over many hosts: bounded requests (host groups, time spans) that together
roll up every host's every window exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetmon_db.timeseries import NS, Aggregate, Point, RangeQuery, Selector, StoreTimeout
from fleetmon_db.timeseries.influx import InfluxStore
from fleetmon_db.timeseries.influx import rollup as influx_rollup
from fleetmon_db.timeseries.influx.rollup import span_windows
from fleetmon_db.timeseries.tiers import DEFAULT_TIERS
from tests.database.helpers import MIN, H
from tests.support.clock import FakeClock
from tests.support.stores import fresh_store

HOSTS = 45
RAW, T5M, T1H, T1D = DEFAULT_TIERS


@pytest.fixture
def influx(
    request: pytest.FixtureRequest, tmp_path: Path, store_options: dict[str, Any]
) -> Iterator[InfluxStore]:
    with fresh_store("influxdb", request, tmp_path, **store_options) as store:
        assert isinstance(store, InfluxStore)
        yield store


def test_span_is_bounded_by_hosts_and_source_resolution() -> None:
    assert span_windows(RAW, T5M, 200) == 1  # 200 hosts x 60 raw rows
    assert span_windows(RAW, T5M, 1) >= 24  # one host: a whole chunk in one request
    assert span_windows(T5M, T1H, 200) == 5
    assert span_windows(T1H, T1D, 5000) == 1


def test_rollup_in_host_groups_covers_every_host_exactly(
    influx: InfluxStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 45 hosts in groups of 10: five requests per span, the last one with five hosts.
    monkeypatch.setattr(influx_rollup, "HOST_GROUP", 10)
    queries: list[list[str]] = []
    real_query = influx.client.query

    def counting(stmts: list[str], *args: Any, **kwargs: Any) -> Any:
        queries.append(stmts)
        return real_query(stmts, *args, **kwargs)

    monkeypatch.setattr(influx.client, "query", counting)
    now = clock.now_ns
    start = now - H
    points = [
        Point(f"host-{h:02d}", "cpu", t, {"cpu": "cpu-total"}, {"usage_user": float(h)})
        for h in range(HOSTS)
        for t in range(start, now - 10 * MIN, 10 * NS)
    ]
    clock.now_ns = start  # written before their windows closed: nothing is dirty
    influx.write(points)
    clock.now_ns = now
    influx.rollup(now)
    selects = [s for q in queries for s in q if s.startswith("SELECT min(")]
    assert selects, queries
    assert all(1 <= s.count('"host" = ') <= 10 for s in selects)
    # Every host's every 5m window: the mean of a constant is the host's number, 30 samples.
    q = RangeQuery(Selector("cpu", "usage_user"), start, now - 10 * MIN, 300, Aggregate.COUNT)
    got = {s.key.host: s for s in influx.query_range(q, now_ns=now)}
    assert sorted(got) == [f"host-{h:02d}" for h in range(HOSTS)]
    for series in got.values():
        assert [v for _, v in series.points] == [30.0] * 10, series


def test_a_request_that_times_out_is_asked_again_in_halves(
    influx: InfluxStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # influxd answers groups of up to 12 hosts in time here, larger ones time out.
    monkeypatch.setattr(influx_rollup, "HOST_GROUP", 45)
    backend = influx.rollups.backend
    assert isinstance(backend, influx_rollup.InfluxRollupBackend)
    real_part = backend._roll_part
    sizes: list[int] = []

    def slow_for_many(src: Any, dst: Any, a: int, b: int, f: Any, hosts: Any) -> None:
        sizes.append(len(hosts))
        if len(hosts) > 12:
            raise StoreTimeout("influxd did not answer in time (injected)")
        real_part(src, dst, a, b, f, hosts)

    monkeypatch.setattr(backend, "_roll_part", slow_for_many)
    now = clock.now_ns
    start = now - H
    clock.now_ns = start
    influx.write(
        [
            Point(f"host-{h:02d}", "mem", t, {}, {"used_percent": float(h)})
            for h in range(HOSTS)
            for t in range(start, start + 10 * MIN, 10 * NS)
        ]
    )
    clock.now_ns = now
    influx.rollup(now)
    assert sizes[:3] == [45, 22, 11]  # 45 timed out, then 22 did, then its halves passed
    q = RangeQuery(Selector("mem", "used_percent"), start, start + 10 * MIN, 300, Aggregate.COUNT)
    got = {s.key.host: s for s in influx.query_range(q, now_ns=now)}
    assert sorted(got) == [f"host-{h:02d}" for h in range(HOSTS)]
    assert all([v for _, v in s.points] == [30.0, 30.0] for s in got.values())
    # Past SPLITS halvings the timeout is the run's failure (retried by the next run).
    monkeypatch.setattr(influx_rollup, "SPLITS", 1)
    sources = influx_rollup.Sources(backend.source_fields(RAW), backend.source_hosts(RAW))
    sizes.clear()
    with pytest.raises(StoreTimeout):
        backend.roll(RAW, T5M, start, start + 5 * MIN, sources)
    assert sizes == [45, 22]
