"""Store suite, the contract itself: declared capabilities, failures, wiring."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from fleetmon_db.timeseries import (
    NS,
    Aggregate,
    Capabilities,
    PointBatch,
    PointsDropped,
    Selector,
    StoreError,
    StoreUnavailable,
    TimeSeriesStore,
    open_store,
)
from fleetmon_db.timeseries.influx import InfluxStore
from fleetmon_db.timeseries.influx.client import Result
from fleetmon_db.timeseries.sql import SqlStore
from fleetmon_db.timeseries.tiers import Tier
from tests.database.helpers import MIN, H, gauge, pt, write_rows
from tests.support.clock import FakeClock
from tests.support.servers import free_port

# -- declared capabilities ------------------------------------------------------------------------

INFLUX = Capabilities(
    concurrent_queries=True,
    combined_aggregates=True,
    native_async_writes=True,
    server_retention=True,
)
DECLARED = {
    "influxdb": INFLUX,
    # 2.x: shards are the server's business (no SHOW SHARDS/DROP SHARD via the v1 API).
    "influxdb-2.7-emulated": replace(INFLUX, retention_follows_clock=False),
    # 3.x: no delete by predicate either.
    "influxdb-3.7-emulated": replace(INFLUX, retention_follows_clock=False, deletes_hosts=False),
    # In-process: its queries compete with the caller's threads for the same cores.
    "sqlite": Capabilities(
        concurrent_queries=False,
        combined_aggregates=False,
        native_async_writes=False,
        server_retention=False,
    ),
    "postgresql": Capabilities(
        concurrent_queries=True,
        combined_aggregates=False,
        native_async_writes=False,
        server_retention=False,
    ),
}


def test_capabilities_declared_per_store(
    store: TimeSeriesStore, request: pytest.FixtureRequest
) -> None:
    assert store.capabilities == DECLARED[request.node.callspec.params["store"]]


class _CountingExecutor(ThreadPoolExecutor):
    """The event loop's default executor, counting the calls handed to its threads."""

    submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_async_writer_sends_from_the_loop_or_a_thread_as_declared(
    store: TimeSeriesStore, clock: FakeClock
) -> None:
    """native_async_writes: the writer works on the event loop itself; otherwise the store's
    blocking write runs in a worker thread. Either way what it wrote is stored."""
    batch = PointBatch.of([pt("a", clock.now_ns - i, {"v": float(i)}) for i in range(10)])

    async def write() -> tuple[int, int]:
        threads = _CountingExecutor(max_workers=1)
        asyncio.get_running_loop().set_default_executor(threads)
        writer = store.async_writer
        try:
            return await writer.write_batch(batch), threads.submitted
        finally:
            await writer.aclose()

    written, handed_to_threads = asyncio.run(write())
    assert written == 10
    assert (handed_to_threads == 0) is store.capabilities.native_async_writes
    counted = store.aggregate(
        Selector("cpu", "v"), clock.now_ns - H, clock.now_ns + 1, Aggregate.COUNT
    )
    assert [s.value for s in counted] == [10.0]


def test_combined_aggregates_as_declared(
    store: TimeSeriesStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """combined_aggregates: several aggregates in one query; otherwise aggregate_many is the
    contract's default, one aggregate() per aggregate."""
    now = clock.now_ns
    write_rows(store, "a", gauge(now - 2 * H, now - H), cpu="cpu0")
    aggs = [Aggregate.MEAN, Aggregate.MAX, Aggregate.COUNT]
    asked: list[object] = []
    if isinstance(store, InfluxStore):
        query = store.client.query

        def counted_query(statements: list[str]) -> list[Result]:
            asked.append(statements)
            return query(statements)

        monkeypatch.setattr(store.client, "query", counted_query)
    else:
        aggregate = store.aggregate

        def counted_aggregate(*args: Any) -> Any:
            asked.append(args)
            return aggregate(*args)

        monkeypatch.setattr(store, "aggregate", counted_aggregate)
    got = store.aggregate_many(Selector("cpu", "usage_user"), now - 3 * H, now, aggs)
    assert [len(got[a]) for a in aggs] == [1, 1, 1]
    assert len(asked) == (1 if store.capabilities.combined_aggregates else len(aggs))


def test_server_retention_as_declared(store: TimeSeriesStore, clock: FakeClock) -> None:
    """server_retention: the server expires data by itself (InfluxDB refuses points older
    than the RP keeps, and the write reports them dropped); otherwise data stays until
    enforce_retention."""
    now = clock.now_ns
    old = now - store.tiers[0].retention_s * NS - H
    points = [pt("a", old, {"usage_user": 1.0}), pt("a", now - MIN, {"usage_user": 2.0})]
    if store.capabilities.server_retention:
        # Never a silent success (202 means stored): the old point is counted as dropped,
        # by InfluxDB (1.x, 2.x) or by the store (3.x takes it and hides it).
        with pytest.raises(PointsDropped) as info:
            store.write(points)
        assert info.value.dropped == 1
    else:
        store.write(points)

    def stored() -> list[float]:
        sel = Selector("cpu", "usage_user")
        return [float(s.value) for s in store.aggregate(sel, old - H, now, Aggregate.SUM)]

    if store.capabilities.server_retention:
        assert stored() == [2.0]
    else:
        assert stored() == [3.0]
        store.enforce_retention(now)
        assert stored() == [2.0]


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
