"""The fleet simulator's client: one keep-alive HTTP/1.1 connection per simulated host, raw asyncio.

A general-purpose client (httpx, aiohttp) spends more CPU per request than the server's
own hot path; this one writes the request head with one bytes join and reads the answer
with two stream reads, so the CPU the simulator needs stays small next to the server's.
Each host sends on its own schedule (a random phase, then its interval with jitter) and, as
the agent does, waits for one answer before its next batch and retries 429/5xx/connection
errors with the same body (same batch id) after a backoff.
"""

from __future__ import annotations

import asyncio
import gzip
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from fleetmon_db.timeseries import NS, Point
from fleetmon_db.timeseries.influx.lineprotocol import LineEncoder
from fleetmon_db.timeseries.model import FieldValue

# Retry like the agent: retryable answers and connection errors, with the same body.
RETRYABLE = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 8
BACKOFF_S = 0.5


@dataclass(frozen=True, slots=True)
class TemplatePoint:
    """One point of the real agent batch, its time kept as an offset from the batch's first."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    offset_ns: int


def template_from_batch(batch: dict[str, object]) -> list[TemplatePoint]:
    """The points of one `fleetmon-agent once` batch, times made relative."""
    points = batch["points"]
    assert isinstance(points, list)
    t0 = min(float(p["time"]) for p in points)
    return [
        TemplatePoint(
            p["measurement"], dict(p.get("tags") or {}), dict(p["fields"]),
            round((float(p["time"]) - t0) * NS),
        )
        for p in points
    ]  # fmt: skip


def field_count(template: list[TemplatePoint]) -> int:
    """Field values per batch."""
    return sum(len(p.fields) for p in template)


class Payloads:
    """Builds one host's request bodies for a tick: agent JSON (gzip'd) or line protocol."""

    def __init__(self, host: str, template: list[TemplatePoint]) -> None:
        self.template = template
        # Line protocol with the time left off: each tick only appends the times.
        enc = LineEncoder()
        body, _ = enc.encode([Point(host, p.measurement, 0, p.tags, p.fields) for p in template])
        lines = body.decode().rstrip("\n").split("\n")
        self.lp_prefixes = [ln.rsplit(" ", 1)[0].encode() + b" " for ln in lines]

    def agent_json(self, tick_ns: int) -> tuple[str, bytes]:
        """(batch id, gzip'd JSON body) of the template re-stamped at `tick_ns`."""
        batch_id = str(uuid.uuid4())
        points = [
            {"measurement": p.measurement, "time": (tick_ns + p.offset_ns) / NS,
             "tags": p.tags, "fields": p.fields}
            for p in self.template
        ]  # fmt: skip
        body = orjson.dumps(
            {"batch_id": batch_id, "agent": {"version": "bench-fleet"}, "points": points}
        )
        return batch_id, gzip.compress(body, compresslevel=1)

    def line_protocol(self, tick_ns: int) -> bytes:
        """Line protocol of the template at `tick_ns` (the direct-to-influxd anchor)."""
        # The JSON path carries times as float seconds (microseconds survive): match them.
        return b"".join(
            pre + str(round((tick_ns + p.offset_ns) / 1000) * 1000).encode() + b"\n"
            for pre, p in zip(self.lp_prefixes, self.template, strict=True)
        )


@dataclass
class HostResult:
    """What one simulated host sent and what it was told."""

    accepted_batches: int = 0
    accepted_points: int = 0
    failed_batches: int = 0
    latencies: list[float] = field(default_factory=list)
    # Wall-clock time each answer came (same order as latencies; minus the latency, when the
    # request was sent): when the slow ones were.
    answered: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    # The first answer body of each refused status (what the server said).
    samples: dict[int, bytes] = field(default_factory=dict)


class Conn:
    """One keep-alive HTTP/1.1 connection; reopened after an error or `Connection: close`."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, head: bytes, body: bytes, timeout: float) -> tuple[int, bytes]:
        """Send one request, return (status, body).

        A kept-alive connection the server closed while idle fails without an answer: the
        request is sent again at once on a new connection, as HTTP clients do.
        """
        reused = self.writer is not None
        try:
            return await self._request(head, body, timeout)
        except (ConnectionError, asyncio.IncompleteReadError):
            if not reused:
                raise
        return await self._request(head, body, timeout)

    async def _request(self, head: bytes, body: bytes, timeout: float) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        try:
            return await asyncio.wait_for(self._answer(self.reader), timeout)
        except BaseException:
            self.close()
            raise

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            body = b"".join(parts)
        else:
            body = await reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass(frozen=True, slots=True)
class Target:
    """Where a fleet sends: address, request head (without Content-Length), expected status."""

    host: str
    port: int
    ok_status: int
    head: Callable[[int], bytes]  # host index -> request head
    body: Callable[[int, Payloads, int], bytes]  # (host index, payloads, tick ns) -> body


def api_target(port: int, keys: list[str]) -> Target:
    """The agent's endpoint of a fleetmon API, one key per host."""
    heads = [
        b"POST /api/v1/metrics/collect HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + k.encode() + b"\r\nContent-Type: application/json\r\n"
        b"Content-Encoding: gzip\r\n"
        for k in keys
    ]
    return Target("127.0.0.1", port, 202, heads.__getitem__, lambda _i, p, t: p.agent_json(t)[1])


def influx_target(port: int, database: str, rp: str = "") -> Target:
    """influxd's /write, line protocol (the anchor; or seeding a store's `rp`)."""
    rp_param = f"&rp={rp}" if rp else ""
    head = (
        f"POST /write?db={database}{rp_param}&precision=ns HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
    ).encode()
    return Target("127.0.0.1", port, 204, lambda _i: head, lambda _i, p, t: p.line_protocol(t))


async def run_host(
    index: int,
    target: Target,
    payloads: Payloads,
    *,
    start: float,
    interval: float,
    seconds: float,
    jitter: float,
    rnd: random.Random,
    result: HostResult,
    timeout: float = 30.0,
) -> None:
    """Send one batch per tick from `start` (plus a random phase) until `start + seconds`."""
    conn = Conn(target.host, target.port)
    head = target.head(index)
    npoints = len(payloads.template)
    due = start + rnd.uniform(0, interval)
    try:
        while due < start + seconds:
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tick_ns = int(due * NS)
            body = target.body(index, payloads, tick_ns)
            for attempt in range(MAX_ATTEMPTS):
                t0 = time.perf_counter()
                try:
                    status, answer = await conn.request(head, body, timeout)
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    status, answer = 599, repr(exc).encode()  # connection error or no answer
                if status != target.ok_status:
                    result.samples.setdefault(status, answer[:300])
                result.latencies.append(time.perf_counter() - t0)
                result.answered.append(time.time())
                result.statuses[status] += 1
                if status == target.ok_status:
                    result.accepted_batches += 1
                    result.accepted_points += npoints
                    break
                if status not in RETRYABLE and status != 599:
                    result.failed_batches += 1
                    break
                await asyncio.sleep(BACKOFF_S * 2**attempt * rnd.uniform(0.5, 1.5))
            else:
                result.failed_batches += 1
            due += interval * (1 + rnd.uniform(-jitter, jitter))
    finally:
        conn.close()


async def run_fleet(
    target: Target,
    payloads: list[Payloads],
    *,
    interval: float,
    seconds: float,
    jitter: float = 0.1,
    seed: int = 0,
    progress: bool = False,
) -> tuple[list[HostResult], float]:
    """Every host's results and the wall time until the last answer."""
    results = [HostResult() for _ in payloads]
    start = time.time() + 0.5
    t0 = time.perf_counter()
    reporter = asyncio.create_task(_progress(results, t0)) if progress else None
    async with asyncio.TaskGroup() as tg:
        for i, p in enumerate(payloads):
            tg.create_task(
                run_host(
                    i, target, p, start=start, interval=interval, seconds=seconds,
                    jitter=jitter, rnd=random.Random(seed * 1_000_003 + i), result=results[i],
                )
            )  # fmt: skip
    if reporter is not None:
        reporter.cancel()
    return results, time.perf_counter() - t0 - 0.5


async def _progress(results: list[HostResult], t0: float, every_s: float = 10.0) -> None:
    """Print the answers so far every `every_s` (a long run shows where it stands)."""
    while True:
        await asyncio.sleep(every_s)
        statuses: Counter[int] = Counter()
        for r in results:
            statuses.update(r.statuses)
        lat = sorted(x for r in results for x in r.latencies[-50:])
        p99 = lat[int(0.99 * (len(lat) - 1))] * 1000 if lat else 0.0
        print(
            f"  {time.perf_counter() - t0:5.0f} s: answers {dict(sorted(statuses.items()))}, "
            f"recent p99 {p99:.0f} ms",
            flush=True,
        )
