"""202 means stored, at the store: a write InfluxDB took only in part raises PointsDropped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetmon_db.timeseries import NS, PointBatch, PointsDropped, TimeSeriesStore
from fleetmon_db.timeseries.influx.write import PIPELINE_CHUNK_POINTS
from tests.database.helpers import MIN, awrite, pt
from tests.support.clock import FakeClock
from tests.support.stores import fresh_store


@pytest.fixture
def influx(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[TimeSeriesStore]:
    with fresh_store("influxdb", request, tmp_path, clock=clock.ns) as s:
        yield s


def test_points_beyond_raw_retention_raise_with_the_count(
    influx: TimeSeriesStore, clock: FakeClock
) -> None:
    now = clock.now_ns
    old = now - influx.tiers[0].retention_s * NS - 60 * MIN
    batch = [pt("h", old, {"v": 1.0}), pt("h", old + NS, {"v": 2.0}), pt("h", now, {"v": 3.0})]
    with pytest.raises(PointsDropped) as sync:
        influx.write(batch)
    assert sync.value.dropped == 2
    assert "retention" in sync.value.reason
    with pytest.raises(PointsDropped) as from_loop:
        awrite(influx, PointBatch.of(batch))
    assert from_loop.value.dropped == 2
    # What it did keep is there: the error is about the dropped points only.
    assert [s.value for s in influx.latest("h")] == [3.0]


def test_a_field_type_conflict_raises(influx: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns  # an hour's start: both writes go to one shard, where types are kept
    influx.write([pt("h", now, {"v": 1.0})])
    with pytest.raises(PointsDropped) as err:
        influx.write([pt("h", now + NS, {"v": "text"}), pt("h", now, {"w": 1.0}, m="other")])
    assert err.value.dropped == 1
    assert "conflict" in err.value.reason


def test_a_large_batch_stores_every_chunk_and_counts_every_drop(
    influx: TimeSeriesStore, clock: FakeClock
) -> None:
    """Past one request's worth of points, a partial chunk stops neither the other chunks
    nor the count: every storable point is kept, and the error counts all that was not."""
    now = clock.now_ns
    old = now - influx.tiers[0].retention_s * NS - 60 * MIN
    n = 3 * PIPELINE_CHUNK_POINTS
    expired = {5, PIPELINE_CHUNK_POINTS + 7, 2 * PIPELINE_CHUNK_POINTS + 9}
    batch = [
        pt("big", old if i in expired else now - i * NS, {"v": float(i)}, cpu=str(i))
        for i in range(n)
    ]
    with pytest.raises(PointsDropped) as sync:
        influx.write_batch(PointBatch.of(batch))
    assert sync.value.dropped == 3
    with pytest.raises(PointsDropped) as from_loop:
        awrite(influx, PointBatch.of(batch))
    assert from_loop.value.dropped == 3
    assert len(influx.latest("big")) == n - 3
