"""Group commit: the batches of concurrent requests go to the store in one write.

A fleet sends many small batches (an agent's ~23 points every few seconds); one store
request per batch makes the store's per-request cost (HTTP, parsing, WAL append, index
lookups) the bulk of the work. `GroupCommitWriter` wraps a store's AsyncWriter: a batch
arriving while fewer than `max_inflight` writes are running goes out at once (an idle
server adds no latency); batches arriving meanwhile wait for a free slot and then go out
together as one write. Each caller's `write_batch` returns only after the write holding
its points succeeded (202 still means stored). If that write fails, a store that is down
fails every batch in it; any other error (one batch's bad type, a partial write) is not
charged to the batches that merely shared the write: each batch is written again on its
own and answered by its own outcome (writes are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from fleetmon_db.timeseries.contract import AsyncWriter
from fleetmon_db.timeseries.model import PointBatch, StoreUnavailable

log = logging.getLogger(__name__)

# Points per merged write: big enough that a busy second's batches share a few writes (two
# InfluxDB requests of 5,000 points), small enough that one write does not hold many
# requests' answers for long.
MAX_GROUP_POINTS = 10_000
# Writes in flight at once: while one is on the wire the next group fills.
MAX_INFLIGHT = 2


def nominal_values(batch: PointBatch) -> int:
    """Field values in a batch (flat holds each point's values and then its time)."""
    return len(batch.flat) - len(batch.times)


def merge(batches: list[PointBatch]) -> PointBatch:
    """One batch holding every point of `batches`, in order."""
    if len(batches) == 1:
        return batches[0]
    shapes, flat, times = [], [], []
    for b in batches:
        shapes.extend(b.shapes)
        flat.extend(b.flat)
        times.extend(b.times)
    return PointBatch(shapes, flat, times)


class GroupCommitWriter:
    """An AsyncWriter that coalesces concurrent callers' batches into shared writes."""

    def __init__(
        self,
        inner: AsyncWriter,
        *,
        count: Callable[[PointBatch], int] = nominal_values,
        max_points: int = MAX_GROUP_POINTS,
        max_inflight: int = MAX_INFLIGHT,
    ) -> None:
        self._inner = inner
        # Field values a batch writes, asked only when a merged write's total differs from
        # the batches' nominal counts (values the store's encoder leaves out).
        self._count = count
        self._max_points = max(1, max_points)
        self._max_inflight = max(1, max_inflight)
        self._pending: list[tuple[PointBatch, asyncio.Future[int]]] = []
        self._inflight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        # Writes and the batches they carried, for /metrics and tests.
        self.writes = 0
        self.batches = 0

    async def write_batch(self, batch: PointBatch) -> int:
        """Write `batch` in the next group; its field values once that write succeeded."""
        if not batch.times:
            return 0
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((batch, fut))
        self._start()
        # A caller that goes away (client disconnect) leaves its points in the group: the
        # write is not undone, it is only not waited for.
        return await asyncio.shield(fut)

    def _start(self) -> None:
        while self._pending and self._inflight < self._max_inflight:
            group = self._take()
            self._inflight += 1
            task = asyncio.get_running_loop().create_task(self._write(group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self) -> list[tuple[PointBatch, asyncio.Future[int]]]:
        """The oldest pending batches up to max_points (always at least one)."""
        n, points = 0, 0
        for batch, _ in self._pending:
            if n and points + len(batch) > self._max_points:
                break
            n += 1
            points += len(batch)
        group, self._pending = self._pending[:n], self._pending[n:]
        return group

    async def _write(self, group: list[tuple[PointBatch, asyncio.Future[int]]]) -> None:
        try:
            batches = [b for b, _ in group]
            self.writes += 1
            self.batches += len(group)
            try:
                total = await self._inner.write_batch(merge(batches))
            except StoreUnavailable as exc:
                for _, fut in group:
                    _settle(fut, exc=exc)
                return
            except Exception as exc:  # noqa: BLE001 - answered per batch below
                if len(group) == 1:
                    _settle(group[0][1], exc=exc)
                    return
                log.info("a merged write of %d batches failed (%s); writing each alone",
                         len(group), type(exc).__name__)  # fmt: skip
                await self._one_by_one(group)
                return
            nominal = [nominal_values(b) for b in batches]
            counts = nominal if sum(nominal) == total else [self._count(b) for b in batches]
            for (_, fut), n in zip(group, counts, strict=True):
                _settle(fut, n)
        except BaseException as exc:
            failure = exc if isinstance(exc, Exception) else StoreUnavailable("write cancelled")
            for _, fut in group:
                _settle(fut, exc=failure)
            raise
        finally:
            self._inflight -= 1
            self._start()

    async def _one_by_one(self, group: list[tuple[PointBatch, asyncio.Future[int]]]) -> None:
        outcomes = await asyncio.gather(
            *(self._inner.write_batch(b) for b, _ in group), return_exceptions=True
        )
        for (_, fut), outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                _settle(fut, exc=outcome)
            else:
                _settle(fut, outcome)

    async def aclose(self) -> None:
        """Wait for the writes in flight, then close the inner writer."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._inner.aclose()


def _settle(fut: asyncio.Future[int], value: int = 0, exc: BaseException | None = None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)
