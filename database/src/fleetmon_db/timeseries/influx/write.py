"""Writes to InfluxDB's /write: line protocol from threads (pipelined) or from an event loop.

`LineWriter` is the transport (encoder, the two keep-alive pools, InfluxDB's answer);
`RawWriter` and `AsyncRawWriter` are the store's ingest writes, which mark the rollup
windows that late points fall into before writing the points.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from fleetmon_db.timeseries.influx._http.asyncpost import AsyncPostPool
from fleetmon_db.timeseries.influx._http.post import Answer, PostPool, Target
from fleetmon_db.timeseries.influx.client import check_status, error_text
from fleetmon_db.timeseries.influx.lineprotocol import LineEncoder
from fleetmon_db.timeseries.model import PointBatch, PointsDropped
from fleetmon_db.timeseries.rollup import RollupScheduler

log = logging.getLogger(__name__)

# Lines per request when many lines are written at once (rollup windows).
WRITE_CHUNK_POINTS = 20_000
# Points per request when a batch is pipelined, and requests in flight at once. InfluxDB's
# own advice is batches of about 5,000 points: each request costs influxd a WAL append and
# an fsync whatever its size, so a group commit of a busy second goes out as one or two.
PIPELINE_CHUNK_POINTS = 5_000
PIPELINE_DEPTH = 2

_LP_TYPE = "text/plain; charset=utf-8"


def partial_write(answer: Answer) -> PointsDropped | None:
    """The points a write answer says were not kept, in any InfluxDB version's words.

    - 1.x: 400 `{"error": "partial write: points beyond retention policy dropped=N"}` (or a
      field type conflict, "... dropped=N").
    - 2.x: 422 `{"code": "unprocessable entity", "message": "failure writing points to
      database: partial write: ... dropped=N"}`; from 2.7.12 the retention case reads
      "dropped N points outside retention policy of duration ..." (influxdb #26303).
    - 3.x: 400 `{"error": "partial write of line protocol occurred", "data": [one entry
      per rejected line]}`. (3.x keeps points older than the retention and hides them.)
    """
    if answer.status < 400 or answer.status >= 500:
        return None
    try:
        body = json.loads(answer.body)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    message = str(body.get("error") or body.get("message") or "")
    if "partial write of line protocol" in message and isinstance(data, list):
        details = "; ".join(
            str(d.get("error_message", "")) for d in data[:3] if isinstance(d, dict)
        )
        return PointsDropped(f"{message}: {details}" if details else message, dropped=len(data))
    if "partial write" not in message:
        return None
    m = _DROPPED.search(message)
    return PointsDropped(message, dropped=int(m.group(1)) if m else None)


_DROPPED = re.compile(r"dropped=(\d+)")


def check_write(answer: Answer, rp: str) -> None:
    """Raise for a failed write: PointsDropped (counted) when the server kept only some."""
    dropped = partial_write(answer)
    if dropped is not None:
        log.debug("InfluxDB kept only part of a write to %s: %s", rp, dropped.reason)
        raise dropped
    check_status(answer.status, lambda: error_text(answer.body, answer.reason))


def combined(drops: list[PointsDropped]) -> PointsDropped:
    """One error for the chunks of one batch that the store took only in part."""
    if len(drops) == 1:
        return drops[0]
    counts = [d.dropped for d in drops]
    total = None if None in counts else sum(c for c in counts if c is not None)
    reason = f"{drops[0].reason} (and {len(drops) - 1} more requests of the batch)"
    return PointsDropped(reason, dropped=total)


class LineWriter:
    """Line protocol to one database's retention policies, over pooled keep-alive connections.

    Writes, the hot path, go over plain http.client connections from threads (_http/post.py)
    or asyncio ones from an event loop (_http/asyncpost.py): httpx costs about four times
    the CPU per request.
    """

    def __init__(
        self,
        url: str,
        database: str,
        headers: dict[str, str],
        *,
        timeout: float,
        verify: bool | str,
        pool_size: int,
    ) -> None:
        self.database = database
        # One target for both pools: the URL parsed and the TLS context loaded once.
        target = Target.parse(url, verify)
        self._pool = PostPool(target, headers, timeout=timeout, max_idle=pool_size)
        self._apool = AsyncPostPool(target, headers, timeout=timeout, max_idle=pool_size)
        self.encoder = LineEncoder()
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._paths: dict[str, str] = {}

    def _path(self, rp: str) -> str:
        path = self._paths.get(rp)
        if path is None:
            query = urlencode({"db": self.database, "rp": rp, "precision": "ns"})
            path = self._paths[rp] = "/write?" + query
        return path

    def post(self, body: bytes, rp: str) -> None:
        """Write line protocol to `rp`; raise if InfluxDB refused it."""
        check_write(self._pool.post(self._path(rp), body, _LP_TYPE), rp)

    async def apost(self, body: bytes, rp: str) -> None:
        """`post` from the running event loop."""
        check_write(await self._apool.post(self._path(rp), body, _LP_TYPE), rp)

    def post_lines(self, lines: list[str], rp: str) -> None:
        """Write lines (without their line breaks), WRITE_CHUNK_POINTS per request."""
        for i in range(0, len(lines), WRITE_CHUNK_POINTS):
            self.post(("\n".join(lines[i : i + WRITE_CHUNK_POINTS]) + "\n").encode(), rp)

    def write_batch(self, batch: PointBatch, rp: str) -> int:
        """Encode and write a batch; the number of field values written.

        Large batches go out as several requests, and the next chunk is encoded while
        influxd parses the previous one (the GIL is free while a request waits): encoding
        and ingestion overlap instead of adding up.
        """
        if len(batch) <= PIPELINE_CHUNK_POINTS:
            body, written = self.encoder.encode_batch(batch)
            if body:
                self.post(body, rp)
            return written
        written = 0
        pending: list[Future[None]] = []
        try:
            for chunk in batch.chunks(PIPELINE_CHUNK_POINTS):
                body, n = self.encoder.encode_batch(chunk)
                written += n
                if body:
                    pending.append(self._threads().submit(self.post, body, rp))
        finally:
            errors = [f.exception() for f in pending]
        drops = [e for e in errors if isinstance(e, PointsDropped)]
        for exc in errors:
            if exc is not None and not isinstance(exc, PointsDropped):
                raise exc
        if drops:
            raise combined(drops)
        return written

    async def awrite_batch(self, batch: PointBatch, rp: str) -> int:
        """`write_batch` from the event loop: each chunk encoded while influxd parses the last."""
        if len(batch) <= PIPELINE_CHUNK_POINTS:
            body, written = self.encoder.encode_batch(batch)
            if body:
                await self.apost(body, rp)
            return written
        written = 0
        sending: asyncio.Future[None] | None = None
        # A chunk the store took only in part does not stop the others: everything storable
        # is stored, and the error counts what every chunk dropped.
        drops: list[PointsDropped] = []
        try:
            for chunk in batch.chunks(PIPELINE_CHUNK_POINTS):
                body, n = self.encoder.encode_batch(chunk)
                written += n
                if sending is not None:
                    try:
                        await sending
                    except PointsDropped as exc:
                        drops.append(exc)
                    sending = None
                if body:
                    sending = asyncio.ensure_future(self.apost(body, rp))
            if sending is not None:
                try:
                    await sending
                except PointsDropped as exc:
                    drops.append(exc)
        finally:
            if sending is not None and not sending.done():
                sending.cancel()
        if drops:
            raise combined(drops)
        return written

    def _threads(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=PIPELINE_DEPTH, thread_name_prefix="fleetmon-influx-write"
                )
            return self._executor

    def close(self) -> None:
        """Close the pools (and the pipeline's threads)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._pool.close()
        self._apool.close()

    async def aclose(self) -> None:
        """Close the event loop's connections (`close` cannot once the loop is gone)."""
        await self._apool.aclose()


class RawWriter:
    """The store's writes to the raw RP: late points mark their rollup windows first."""

    def __init__(
        self,
        lines: LineWriter,
        rp: str,
        rollups: RollupScheduler[Any],
        mark: Callable[[str, Collection[int]], None],
        clock: Callable[[], int],
        hidden_before: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.lines, self.rp = lines, rp
        self._rollups, self.mark, self._clock = rollups, mark, clock
        self._hidden_before = hidden_before

    def check_hidden(self, batch: PointBatch) -> None:
        """Raise PointsDropped for points the server took but will never show.

        InfluxDB 3.x answers 204 for points older than the database's retention and hides
        them from every query; 1.x and 2.x refuse them (a partial write, counted). 202 means
        stored, so the store counts them itself.
        """
        cutoff = self._hidden_before()
        if cutoff is None or min(batch.times) >= cutoff:
            return
        hidden = sum(1 for t in batch.times if t < cutoff)
        raise PointsDropped(
            f"{hidden} points older than the retention of {self.rp} were accepted by InfluxDB "
            "but are hidden from queries (InfluxDB 3.x)",
            dropped=hidden,
        )

    def late(self, batch: PointBatch) -> tuple[str, set[int]] | None:
        """The first rollup tier and the windows of it that late points fall into, if any."""
        cutoff = self._rollups.late_cutoff(self._clock())
        if cutoff is None or min(batch.times) >= cutoff.before_ns:
            return None
        return cutoff.tier, cutoff.windows(batch.times)

    def write_batch(self, batch: PointBatch) -> int:
        """Mark late windows, then write the batch."""
        if not batch.times:
            return 0
        late = self.late(batch)
        if late is not None:
            # Marks first: a crash in between costs a recomputation, never a stale window.
            self.mark(*late)
        written = self.lines.write_batch(batch, self.rp)
        self.check_hidden(batch)
        return written


class AsyncRawWriter:
    """The InfluxDB store's AsyncWriter: the requests go out from the event loop itself."""

    def __init__(self, raw: RawWriter) -> None:
        self._raw = raw

    async def write_batch(self, batch: PointBatch) -> int:
        """As `RawWriter.write_batch`; the rare late marks are a blocking write, in a thread."""
        raw = self._raw
        if not batch.times:
            return 0
        late = raw.late(batch)
        if late is not None:
            await asyncio.to_thread(raw.mark, *late)
        written = await raw.lines.awrite_batch(batch, raw.rp)
        raw.check_hidden(batch)
        return written

    async def aclose(self) -> None:
        """Close the event loop's write connections."""
        await self._raw.lines.aclose()
