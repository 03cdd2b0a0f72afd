"""Group commit on the InfluxDB store: concurrent batches share writes, each caller learns the
outcome of its own points, and one batch's type conflict does not fail the batches it shared a
write with."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetmon_db.timeseries import (
    NS,
    Aggregate,
    Point,
    PointBatch,
    Selector,
    StoreError,
    StoreUnavailable,
)
from fleetmon_db.timeseries.groupcommit import GroupCommitWriter
from fleetmon_db.timeseries.influx.store import InfluxStore
from tests.support.servers import free_port
from tests.support.stores import fresh_store


@pytest.fixture
def influx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InfluxStore]:
    with fresh_store("influxdb", request, tmp_path) as store:
        assert isinstance(store, InfluxStore)
        yield store


def host_batch(host: str, t_ns: int, value: float | str = 1.5) -> PointBatch:
    return PointBatch.of(
        [
            Point(host, "cpu", t_ns, {"cpu": "cpu-total"}, {"usage_user": value, "usage_idle": 2}),
            Point(host, "mem", t_ns, {}, {"used_percent": 40.0}),
        ]
    )


async def write_all(store: InfluxStore, batches: list[PointBatch]) -> list[int | BaseException]:
    writer = store.async_writer
    try:
        return await asyncio.gather(
            *(writer.write_batch(b) for b in batches), return_exceptions=True
        )
    finally:
        await writer.aclose()


def stored_hosts(store: InfluxStore, since_ns: int) -> dict[str, float]:
    now = time.time_ns()
    got = store.aggregate(Selector("mem", "used_percent"), since_ns, now + NS, Aggregate.COUNT)
    return {s.key.host: float(s.value) for s in got}


def test_concurrent_batches_share_writes_and_are_all_stored(influx: InfluxStore) -> None:
    writer = influx.async_writer
    assert isinstance(writer, GroupCommitWriter)
    t0 = time.time_ns() - 10 * NS
    batches = [host_batch(f"h{i:03d}", t0) for i in range(200)]
    writes_before = writer.writes
    outcomes = asyncio.run(write_all(influx, batches))
    # Each caller is told its own field values (2 + 1 per batch).
    assert outcomes == [3] * 200
    # 200 callers at once: the first goes out alone, the rest wait and share a few writes.
    assert writer.writes - writes_before < 20
    assert stored_hosts(influx, t0 - NS) == {f"h{i:03d}": 1 for i in range(200)}


def test_a_type_conflict_fails_only_its_own_batch(influx: InfluxStore) -> None:
    t0 = time.time_ns() - 10 * NS
    # usage_user becomes a float field first, then one host sends it as a string.
    asyncio.run(write_all(influx, [host_batch("first", t0 - NS)]))
    batches = [host_batch(f"ok{i}", t0) for i in range(30)]
    batches.insert(10, host_batch("bad", t0, "text"))
    outcomes = asyncio.run(write_all(influx, batches))
    bad = outcomes.pop(10)
    assert isinstance(bad, StoreError), bad
    assert outcomes == [3] * 30
    stored = stored_hosts(influx, t0 - NS)
    assert all(stored.get(f"ok{i}") == 1 for i in range(30)), stored


def test_a_store_that_is_down_fails_every_batch_of_the_write() -> None:
    # A free port: nothing listens there.
    store = InfluxStore(f"http://127.0.0.1:{free_port()}", "fleetmon_down", timeout=2)
    try:
        outcomes = asyncio.run(
            write_all(store, [host_batch(f"h{i}", time.time_ns()) for i in range(5)])
        )
    finally:
        store.close()
    assert all(isinstance(o, StoreUnavailable) for o in outcomes), outcomes
