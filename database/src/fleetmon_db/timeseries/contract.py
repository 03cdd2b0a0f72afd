"""The time-series store contract: what fleetmon asks of a store, and what a store declares.

A store subclasses `TimeSeriesStore` explicitly, implements its abstract methods and
inherits the defaults written here (several aggregates one by one, the flat write form
through `write`, async writes in a worker thread, rollups through the shared scheduler).
Callers read `capabilities` instead of testing which class a store is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from fleetmon_db.timeseries.model import (
    Aggregate,
    Point,
    PointBatch,
    RangeQuery,
    RollupReport,
    Sample,
    Selector,
    SeriesData,
    SeriesKey,
    Summary,
)
from fleetmon_db.timeseries.rollup import RollupScheduler
from fleetmon_db.timeseries.tiers import Tier


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a store does well or differently, declared by the store itself."""

    # Several questions in flight at once overlap (the store works in its own process);
    # False for an in-process store whose queries compete with the caller for the cores.
    concurrent_queries: bool
    # `aggregate_many` answers several aggregates of one selector for about the price of one.
    combined_aggregates: bool
    # `async_writer` sends from the event loop itself; False: a worker thread per write.
    native_async_writes: bool
    # The server also expires data by itself (InfluxDB retention policies and buckets);
    # False: nothing is deleted until `enforce_retention` runs.
    server_retention: bool
    # `delete_host` can remove a host's points (InfluxDB 3.x cannot delete by predicate:
    # the API refuses a purge before it changes anything).
    deletes_hosts: bool = True
    # `enforce_retention(now)` expires data by the caller's clock; False where only the
    # server's own retention service does (InfluxDB 2.x/3.x: wall clock, bucket settings).
    retention_follows_clock: bool = True


class AsyncWriter(Protocol):
    """Writes from an event loop without blocking it; closed on the loop that used it."""

    async def write_batch(self, batch: PointBatch) -> int:
        """`TimeSeriesStore.write_batch`, awaited."""
        ...

    async def aclose(self) -> None:
        """Release what the writes opened on the running loop."""
        ...


class ThreadOffloadWriter:
    """The default AsyncWriter: the store's blocking `write_batch` in a worker thread."""

    def __init__(self, write_batch: Callable[[PointBatch], int]) -> None:
        self._write_batch = write_batch

    async def write_batch(self, batch: PointBatch) -> int:
        """Write in a worker thread (the store's driver blocks)."""
        return await asyncio.to_thread(self._write_batch, batch)

    async def aclose(self) -> None:
        """Nothing to release: the thread's writes use the store's own connections."""


@runtime_checkable
class TimeSeriesStore(Protocol):
    """Everything fleetmon asks of a time-series store; every store passes one shared suite.

    All methods are synchronous and thread-safe: the API calls them from its thread pool,
    and writes from its event loop through `async_writer`. Writes are idempotent: writing
    the same points again leaves stored data unchanged.
    """

    name: str
    tiers: tuple[Tier, ...]
    capabilities: Capabilities
    # The shared rollup scheduler over this store's backend (see rollup.py).
    rollups: RollupScheduler[Any]

    def ensure_schema(self) -> None:
        """Create databases, retention policies or tables if missing (idempotent)."""
        ...

    def ping(self) -> None:
        """Return if the store answers; raise StoreUnavailable otherwise."""
        ...

    def server_info(self) -> dict[str, Any]:
        """What the store knows of the server behind it (version, capability set), for
        operators (/health detail); {} when there is nothing beyond `name`."""
        return {}

    def close(self) -> None:
        """Release connections."""
        ...

    def write(self, points: Sequence[Point]) -> int:
        """Store points (raw tier); return the number of field values written.

        Points older than the close of the first rollup tier's current window mark their
        windows dirty, so that the next rollup run recomputes them.
        """
        ...

    def write_batch(self, batch: PointBatch) -> int:
        """`write` for points in flat form (the ingest path's)."""
        return self.write(batch.points())

    @property
    def async_writer(self) -> AsyncWriter:
        """The writer for callers on an event loop (the ingest path)."""
        return ThreadOffloadWriter(self.write_batch)

    def latest(self, host: str, since_ns: int | None = None) -> list[Sample]:
        """Latest value of every series of `host` (written at or after `since_ns`)."""
        ...

    def latest_many(self, selectors: Sequence[Selector], since_ns: int) -> list[Sample]:
        """Latest value of every series matching any selector, across hosts, in one round trip."""
        ...

    def query_range(self, query: RangeQuery, now_ns: int | None = None) -> list[SeriesData]:
        """Bucketed values per series: the tier chosen from range and step where its windows
        are rolled up, finer tiers for the rest up to now (stitch.py)."""
        ...

    def aggregate(
        self, selector: Selector, start_ns: int, end_ns: int, aggregate: Aggregate
    ) -> list[Sample]:
        """One value per matching series over the whole window (raw data); time is `end_ns`."""
        ...

    def aggregate_many(
        self, selector: Selector, start_ns: int, end_ns: int, aggregates: Sequence[Aggregate]
    ) -> dict[Aggregate, list[Sample]]:
        """`aggregate` for several aggregates of one selector and window: the same samples.

        This default asks one aggregate at a time; a store that can do better declares
        `capabilities.combined_aggregates` and overrides it.
        """
        return {
            a: self.aggregate(selector, start_ns, end_ns, a)
            for a in dict.fromkeys(Aggregate(a) for a in aggregates)
        }

    def summary(
        self, selector: Selector, start_ns: int, end_ns: int, now_ns: int | None = None
    ) -> Summary:
        """avg/min/max/p95/p99 over all matching series' samples in the range."""
        ...

    def hosts(self) -> list[str]:
        """Every host with stored data."""
        ...

    def series(self, host: str) -> list[SeriesKey]:
        """Every series of a host."""
        ...

    def delete_host(self, host: str) -> None:
        """Remove every stored point of a host in every tier."""
        ...

    def rollup(self, now_ns: int) -> RollupReport:
        """Compute every closed, not yet rolled-up (or backfilled) window of every tier."""
        return self.rollups.run(now_ns)

    def enforce_retention(self, now_ns: int) -> None:
        """Delete data older than each tier's retention."""
        ...
