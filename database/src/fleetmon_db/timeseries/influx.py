"""InfluxDB store over the v1-compatible HTTP API (/write, /query), served by 1.x, 2.x and 3.x.

Layout: one database; each tier is a retention policy named after the tier (raw is the
default RP). Rollup tiers keep, per raw field ``f``, the fields ``f_mean``, ``f_min``,
``f_max``, ``f_count`` and ``f_sum`` at the window start, in the same measurement and
tags. Rollup bookkeeping lives in the coarsest tier's RP: ``_fleetmon_rollup`` (watermark
and processed dirty-mark generation per tier) and ``_fleetmon_dirty`` (windows to
recompute because late data arrived after they were rolled up).
"""

# ruff: noqa: S608  -- every spliced value goes through quoting (influxql.py) or is an int
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from fleetmon_db.timeseries.asyncpost import AsyncPostPool
from fleetmon_db.timeseries.base import (
    NS,
    Aggregate,
    FieldValue,
    Point,
    PointBatch,
    RangeQuery,
    RollupReport,
    Sample,
    Selector,
    SeriesData,
    SeriesKey,
    StoreError,
    StoreUnavailable,
    Summary,
    series_key,
)
from fleetmon_db.timeseries.compute import (
    align_down,
    bucket_starts,
    fill,
    merge_ranges,
    percentile_ranks,
    rate_per_bucket,
    summary_of_rollups,
    window_rate,
)
from fleetmon_db.timeseries.httppost import Answer, PostPool, Target, basic_auth
from fleetmon_db.timeseries.influxql import (
    ident,
    integer,
    literal,
    number,
    tag_conditions,
    time_range,
    where,
)
from fleetmon_db.timeseries.lineprotocol import LineEncoder, escape_key, series_prefix
from fleetmon_db.timeseries.names import decode_name, encode_name
from fleetmon_db.timeseries.tiers import DEFAULT_TIERS, Tier, pick_tier, validate_tiers

log = logging.getLogger(__name__)

STATE_MEASUREMENT = "_fleetmon_rollup"
DIRTY_MEASUREMENT = "_fleetmon_dirty"
ROLLUP_STATS = ("mean", "min", "max", "count", "sum")
# Dirty marks are re-read this far behind the last processed generation, so a mark whose
# write raced with a rollup run is picked up by the next run (recomputing is idempotent).
GEN_OVERLAP_NS = 60 * NS
WRITE_CHUNK_POINTS = 20_000
# Points per request when a batch is pipelined, and requests in flight at once.
PIPELINE_CHUNK_POINTS = 1_000
PIPELINE_DEPTH = 2
STATEMENTS_PER_REQUEST = 50
# Raw summaries read the values from p95's rank up with one top() while there are at most
# this many (5% of 24 h of 5 s data for 11 hosts); beyond, one percentile() per rank.
SUMMARY_TOP_MAX = 10_000
# Summary questions whose last count is remembered (to size a speculative top()).
SUMMARY_MEMO_MAX = 4_096

Result = dict[str, Any]


def _error_text(body: bytes, reason: str) -> str:
    """InfluxDB's `{"error": ...}` message, else the body's start, else the reason phrase."""
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict) and parsed.get("error"):
            return str(parsed["error"])
    except ValueError:
        pass
    return body.decode("utf-8", "replace").strip()[:500] or reason


def _check_status(status: int, text: Callable[[], str]) -> None:
    """Raise StoreUnavailable on 5xx/429 (retry later), StoreError on other 4xx."""
    if status >= 500 or status == 429:
        raise StoreUnavailable(f"InfluxDB answered {status}: {text()}")
    if status >= 400:
        raise StoreError(f"InfluxDB rejected the request ({status}): {text()}")


_LP_TYPE = "text/plain; charset=utf-8"


def _check_write(answer: Answer, rp: str) -> None:
    """Raise for a failed write, except points dropped as older than the RP keeps."""
    try:
        _check_status(answer.status, lambda: _error_text(answer.body, answer.reason))
    except StoreUnavailable:
        raise
    except StoreError as exc:
        msg = str(exc)
        # Points older than the RP's duration are expired by policy; the rest were stored.
        if "partial write" in msg and "beyond retention policy" in msg and "conflict" not in msg:
            log.debug("InfluxDB dropped points beyond the retention of %s: %s", rp, msg)
            return
        raise


_REGEX_SPECIAL = frozenset("\\.+*?()|[]{}^$/")


def _host_regex(hosts: Iterable[str]) -> str:
    """An InfluxQL regex literal matching exactly these hosts (stored form)."""
    alts = (
        "".join("\\" + c if c in _REGEX_SPECIAL else c for c in encode_name(h))
        for h in sorted(set(hosts))
    )
    return "/^(?:" + "|".join(alts) + ")$/"


def _number(v: Any) -> FieldValue:
    if isinstance(v, str):
        return v
    return float(v)


def _series(result: Result) -> Iterator[tuple[str, dict[str, str], list[str], list[list[Any]]]]:
    for s in result.get("series") or ():
        yield s.get("name", ""), s.get("tags") or {}, s["columns"], s["values"]


def _key(stored_name: str, stored_tags: Mapping[str, str], stored_field: str) -> SeriesKey:
    tags = {
        decode_name(k): decode_name(v) for k, v in stored_tags.items() if k != "host" and v != ""
    }
    return series_key(
        decode_name(stored_tags.get("host", "")),
        decode_name(stored_name),
        decode_name(stored_field),
        tags,
    )


class _KeyDecoder:
    """`_key` for many series of one measurement and field: a thousand hosts share a handful
    of tag sets, so each stored tag set is decoded once."""

    def __init__(self, stored_name: str, stored_field: str) -> None:
        self._m, self._f = stored_name, stored_field
        self._name, self._field = decode_name(stored_name), decode_name(stored_field)
        self._tag_sets: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}

    def __call__(self, stored_tags: Mapping[str, str]) -> SeriesKey:
        """The key of the series with these stored tags (host included)."""
        rest = dict(stored_tags)
        host = decode_name(rest.pop("host", ""))
        raw = tuple(rest.items())
        tags = self._tag_sets.get(raw)
        if tags is None:
            tags = self._tag_sets[raw] = _key(self._m, rest, self._f).tags
        return SeriesKey(host, self._name, self._field, tags)


def _tk(stored_tags: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    # GROUP BY * over several measurements reports every tag key, "" where a series lacks it.
    return tuple(sorted((k, v) for k, v in stored_tags.items() if v != ""))


def _rfc3339_ns(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * NS


class InfluxStore:
    """TimeSeriesStore on InfluxDB through /write and /query (InfluxQL)."""

    name = "influxdb"

    def __init__(
        self,
        url: str,
        database: str,
        *,
        tiers: Sequence[Tier] = DEFAULT_TIERS,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        pool_size: int = 8,
        verify: bool | str = True,
        clock: Callable[[], int] = time.time_ns,
        rollup_delay_s: int = 60,
        rollup_chunk_windows: int = 24,
    ) -> None:
        validate_tiers(tiers)
        if not database:
            raise ValueError("InfluxDB store: the database name (URL path) is missing")
        self.database = database
        self.tiers = tuple(tiers)
        self._clock = clock
        self._delay_ns = rollup_delay_s * NS
        self._chunk_windows = max(1, rollup_chunk_windows)
        self._url = url.rstrip("/")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        elif username:
            headers["Authorization"] = basic_auth(username, password or "")
        self._client = httpx.Client(
            base_url=self._url,
            headers=headers,
            timeout=timeout,
            verify=verify,
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
        )
        # Writes, the hot path, go over plain http.client connections (see httppost.py),
        # or asyncio ones when an event loop awaits them (asyncpost.py).
        # One target for both: the URL parsed and the TLS context loaded once.
        target = Target.parse(self._url, verify)
        self._writer = PostPool(target, headers, timeout=timeout, max_idle=pool_size)
        self._awriter = AsyncPostPool(target, headers, timeout=timeout, max_idle=pool_size)
        self._encoder = LineEncoder()
        self._executor: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._raw = self.tiers[0].name
        self._summary_counts: dict[tuple[Any, ...], int] = {}
        self._meta = self.tiers[-1].name

    # -- HTTP ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # connection refused/reset, timeouts, DNS
            raise StoreUnavailable(f"InfluxDB at {self._url} unreachable: {exc!r}") from exc
        _check_status(resp.status_code, lambda: _error_text(resp.content, resp.reason_phrase))
        return resp

    def _query(self, statements: Sequence[str]) -> list[Result]:
        """Run statements (one request per STATEMENTS_PER_REQUEST); raise on any error."""
        out: list[Result] = []
        for i in range(0, len(statements), STATEMENTS_PER_REQUEST):
            chunk = statements[i : i + STATEMENTS_PER_REQUEST]
            resp = self._send(
                "POST",
                "/query",
                data={"q": ";\n".join(chunk), "db": self.database, "epoch": "ns"},
            )
            try:
                # orjson: answers of thousands of series decode 2-3x faster than with json.
                body = orjson.loads(resp.content)
            except orjson.JSONDecodeError as exc:
                raise StoreError(f"InfluxDB sent a non-JSON answer: {resp.text[:200]}") from exc
            if body.get("error"):
                raise StoreError(f"InfluxDB query failed: {body['error']}")
            results: list[Result] = body.get("results") or []
            for r in results:
                if r.get("error"):
                    raise StoreError(f"InfluxDB query failed: {r['error']}")
            results += [{} for _ in range(len(chunk) - len(results))]
            out.extend(results)
        return out

    def _write_query(self, rp: str) -> str:
        return "/write?" + urlencode({"db": self.database, "rp": rp, "precision": "ns"})

    def _write_lines(self, body: bytes, rp: str) -> None:
        _check_write(self._writer.post(self._write_query(rp), body, _LP_TYPE), rp)

    async def _awrite_lines(self, body: bytes, rp: str) -> None:
        _check_write(await self._awriter.post(self._write_query(rp), body, _LP_TYPE), rp)

    def _src(self, rp: str, stored_measurement: str) -> str:
        return f"{ident(self.database)}.{ident(rp)}.{ident(stored_measurement)}"

    def _all(self, rp: str) -> str:
        return f"{ident(self.database)}.{ident(rp)}./.*/"

    # -- lifecycle ------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the database and one retention policy per tier (1.x); 2.x/3.x map buckets."""
        try:
            self._query([f"CREATE DATABASE {ident(self.database)}"])
        except StoreUnavailable:
            raise
        except StoreError as exc:
            log.warning(
                "cannot create database %s (on InfluxDB 2.x/3.x create the buckets "
                "<db>/<tier> instead): %s",
                self.database,
                exc,
            )
        for tier in self.tiers:
            spec = f"ON {ident(self.database)} DURATION {integer(tier.retention_s)}s REPLICATION 1"
            if tier.is_raw:
                spec += " DEFAULT"
            try:
                self._query([f"CREATE RETENTION POLICY {ident(tier.name)} {spec}"])
            except StoreUnavailable:
                raise
            except StoreError as exc:
                if "already exists" in str(exc):
                    try:
                        self._query([f"ALTER RETENTION POLICY {ident(tier.name)} {spec}"])
                        continue
                    except StoreUnavailable:
                        raise
                    except StoreError as exc2:
                        exc = exc2
                log.warning(
                    "cannot create retention policy %s on %s (InfluxDB 2.x/3.x: the bucket "
                    "%s/%s must exist with its retention): %s",
                    tier.name,
                    self.database,
                    self.database,
                    tier.name,
                    exc,
                )

    def ping(self) -> None:
        """Raise StoreUnavailable unless /ping answers."""
        self._send("GET", "/ping")

    async def aclose(self) -> None:
        """Close the event loop's write connections (`close` cannot once the loop is gone)."""
        await self._awriter.aclose()

    def close(self) -> None:
        """Close the connection pool (and the write pipeline's threads)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._client.close()
        self._writer.close()
        self._awriter.close()

    # -- writes ----------------------------------------------------------------------------

    def write(self, points: Sequence[Point]) -> int:
        """Write points to the raw RP; mark rolled-up windows that late points fall into."""
        return self.write_batch(PointBatch.of(points))

    def write_batch(self, batch: PointBatch) -> int:
        """`write` for a flat batch.

        Large batches go out as several requests, and the next chunk is encoded while
        influxd parses the previous one (the GIL is free while a request waits): encoding
        and ingestion overlap instead of adding up.
        """
        if not batch.times:
            return 0
        late = self._late_windows(batch)
        if late is not None:
            # Marks first: a crash in between costs a recomputation, never a stale window.
            self._mark_dirty(*late)
        if len(batch) <= PIPELINE_CHUNK_POINTS:
            body, written = self._encoder.encode_batch(batch)
            if body:
                self._write_lines(body, self._raw)
            return written
        written = 0
        pending: list[Future[None]] = []
        try:
            for chunk in batch.chunks(PIPELINE_CHUNK_POINTS):
                body, n = self._encoder.encode_batch(chunk)
                written += n
                if body:
                    pending.append(self._pool().submit(self._write_lines, body, self._raw))
        finally:
            errors = [f.exception() for f in pending]
        for exc in errors:
            if exc is not None:
                raise exc
        return written

    async def awrite_batch(self, batch: PointBatch) -> int:
        """`write_batch` awaited on an event loop: the requests go out from the loop itself.

        Late points mark their rollup windows dirty first, as in `write_batch`. The chunks
        of a large batch go one after the other, each encoded while influxd parses the one
        before.
        """
        if not batch.times:
            return 0
        late = self._late_windows(batch)
        if late is not None:
            # As write_batch: marks first (a blocking write of their own, in a thread).
            await asyncio.to_thread(self._mark_dirty, *late)
        if len(batch) <= PIPELINE_CHUNK_POINTS:
            body, written = self._encoder.encode_batch(batch)
            if body:
                await self._awrite_lines(body, self._raw)
            return written
        written = 0
        sending: asyncio.Future[None] | None = None
        try:
            for chunk in batch.chunks(PIPELINE_CHUNK_POINTS):
                body, n = self._encoder.encode_batch(chunk)
                written += n
                if sending is not None:
                    await sending
                    sending = None
                if body:
                    sending = asyncio.ensure_future(self._awrite_lines(body, self._raw))
            if sending is not None:
                await sending
        finally:
            if sending is not None and not sending.done():
                sending.cancel()
        return written

    def _late_windows(self, batch: PointBatch) -> tuple[str, set[int]] | None:
        """The first rollup tier and the windows of it that late points fall into, if any."""
        first_rollup = self.tiers[1] if len(self.tiers) > 1 else None
        if first_rollup is None:
            return None
        window_ns = first_rollup.resolution_s * NS
        late_before = align_down(self._clock() - self._delay_ns, window_ns)
        if min(batch.times) >= late_before:
            return None
        return first_rollup.name, {t - t % window_ns for t in batch.times if t < late_before}

    def _pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=PIPELINE_DEPTH, thread_name_prefix="fleetmon-influx-write"
                )
            return self._executor

    def _mark_dirty(self, tier: str, windows: Iterable[int]) -> None:
        gen = time.time_ns()
        prefix = series_prefix(DIRTY_MEASUREMENT, [("tier", encode_name(tier))])
        body = "".join(f"{prefix} gen={gen}i {w}\n" for w in sorted(windows))
        if body:
            self._write_lines(body.encode(), self._meta)

    # -- reads -----------------------------------------------------------------------------

    def latest(self, host: str, since_ns: int | None = None) -> list[Sample]:
        """Latest value of every series of `host`: two statements, one request."""
        conds = [f"{ident('host')} = {literal(encode_name(host))}", *time_range(since_ns, None)]
        w = where(conds)
        src = self._all(self._raw)
        last_rows, last_values = self._query(
            [
                f"SELECT * FROM {src}{w} GROUP BY * ORDER BY time DESC LIMIT 1",
                f"SELECT last(*) FROM {src}{w} GROUP BY *",
            ]
        )
        rows: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[int, dict[str, Any]]] = {}
        for name, tags, cols, values in _series(last_rows):
            if values:
                rows[(name, _tk(tags))] = (
                    values[0][0],
                    dict(zip(cols[1:], values[0][1:], strict=False)),
                )
        out: list[Sample] = []
        missing: set[tuple[str, tuple[tuple[str, str], ...], str]] = set()
        for name, tags, cols, values in _series(last_values):
            tk = _tk(tags)
            row = rows.get((name, tk))
            for col, val in zip(cols[1:], values[0][1:], strict=False):
                if val is None or not col.startswith("last_"):
                    continue
                field = col[5:]
                if row is not None and row[1].get(field) is not None:
                    out.append(Sample(_key(name, tags, field), row[0], _number(row[1][field])))
                else:
                    missing.add((name, tk, field))
        if missing:
            # A field absent from its series' newest row: ask for its own last() and time.
            pairs = sorted({(m, f) for m, _, f in missing})
            results = self._query(
                [
                    f"SELECT last({ident(f)}) FROM {self._src(self._raw, m)}{w} GROUP BY *"
                    for m, f in pairs
                ]
            )
            for (m, f), result in zip(pairs, results, strict=True):
                for _, tags, _, values in _series(result):
                    if (m, _tk(tags), f) in missing and values:
                        out.append(Sample(_key(m, tags, f), values[0][0], _number(values[0][1])))
        out.sort(key=lambda s: s.key)
        return out

    def latest_many(self, selectors: Sequence[Selector], since_ns: int) -> list[Sample]:
        """Latest value of every series matching any selector: one statement per selector."""
        stmts = []
        for sel in selectors:
            if sel.hosts is not None and not sel.hosts:
                continue
            conds = time_range(since_ns, None) + tag_conditions(sel.hosts, sel.tags)
            src = self._src(self._raw, encode_name(sel.measurement))
            stmts.append(
                f"SELECT last({ident(encode_name(sel.field))}) FROM {src}{where(conds)} GROUP BY *"
            )
        seen: dict[SeriesKey, Sample] = {}
        for result, sel in zip(self._query(stmts), selectors, strict=False):
            for _, tags, _, values in _series(result):
                if values:
                    key = _key(encode_name(sel.measurement), tags, encode_name(sel.field))
                    seen[key] = Sample(key, values[0][0], _number(values[0][1]))
        return sorted(seen.values(), key=lambda s: s.key)

    def _selector_where(self, sel: Selector, start_ns: int, end_ns: int) -> str:
        return where(time_range(start_ns, end_ns) + tag_conditions(sel.hosts, sel.tags))

    def query_range(self, query: RangeQuery, now_ns: int | None = None) -> list[SeriesData]:
        """Bucketed values per series from the tier that `pick_tier` chooses."""
        now = self._clock() if now_ns is None else now_ns
        sel, agg = query.selector, Aggregate(query.aggregate)
        step_ns = query.step_s * NS
        buckets = bucket_starts(query.start_ns, query.end_ns, step_ns)
        if not buckets or (sel.hosts is not None and not sel.hosts):
            return []
        tier = pick_tier(self.tiers, query.start_ns, query.step_s, now)
        lo = buckets[0] - step_ns if agg is Aggregate.RATE else query.start_ns
        f = encode_name(sel.field)
        m = encode_name(sel.measurement)
        if tier.is_raw:
            fn = "last" if agg in (Aggregate.RATE, Aggregate.LAST) else agg.value
            cols = [f"{fn}({ident(f)})"]
        else:
            cols = {
                Aggregate.MEAN: [f"sum({ident(f + '_sum')})", f"sum({ident(f + '_count')})"],
                Aggregate.MIN: [f"min({ident(f + '_min')})"],
                Aggregate.MAX: [f"max({ident(f + '_max')})"],
                Aggregate.RATE: [f"max({ident(f + '_max')})"],
                Aggregate.SUM: [f"sum({ident(f + '_sum')})"],
                Aggregate.COUNT: [f"sum({ident(f + '_count')})"],
                Aggregate.LAST: [f"last({ident(f + '_mean')})"],
            }[agg]
        stmt = (
            f"SELECT {', '.join(cols)} FROM {self._src(tier.name, m)}"
            f"{self._selector_where(sel, lo, query.end_ns)}"
            f" GROUP BY time({integer(query.step_s)}s), * fill(none)"
        )
        (result,) = self._query([stmt])
        out = []
        for _, tags, _, values in _series(result):
            by_bucket: dict[int, float] = {}
            for row in values:
                if row[1] is None:
                    continue
                if not tier.is_raw and agg is Aggregate.MEAN:
                    if row[2]:
                        by_bucket[row[0]] = float(row[1]) / float(row[2])
                else:
                    by_bucket[row[0]] = float(row[1])
            if agg is Aggregate.RATE:
                by_bucket = rate_per_bucket(by_bucket, buckets)
            out.append(SeriesData(_key(m, tags, f), fill(buckets, by_bucket), tier.name))
        out.sort(key=lambda s: s.key)
        return out

    def aggregate(
        self, selector: Selector, start_ns: int, end_ns: int, aggregate: Aggregate
    ) -> list[Sample]:
        """One value per series over [start, end) from raw data."""
        if selector.hosts is not None and not selector.hosts:
            return []
        agg = Aggregate(aggregate)
        f = encode_name(selector.field)
        m = encode_name(selector.measurement)
        # Hosts as one anchored regex, not `host = 'a' OR host = 'b' ...`: with a scope of 500
        # hosts, InfluxDB answers in a fifth to a sixth of the time (bench alerts).
        conds = time_range(start_ns, end_ns) + tag_conditions(None, selector.tags)
        if selector.hosts is not None:
            conds.append(f"{ident('host')} =~ {_host_regex(selector.hosts)}")
        w = where(conds)
        src = self._src(self._raw, m)
        out = []
        if agg is Aggregate.RATE:
            (result,) = self._query([f"SELECT {ident(f)} FROM {src}{w} GROUP BY *"])
            for _, tags, _, values in _series(result):
                rate = window_rate([(r[0], float(r[1])) for r in values if r[1] is not None])
                if rate is not None:
                    out.append(Sample(_key(m, tags, f), end_ns, rate))
        else:
            (result,) = self._query([f"SELECT {agg.value}({ident(f)}) FROM {src}{w} GROUP BY *"])
            key_of = _KeyDecoder(m, f)
            for _, tags, _, values in _series(result):
                if values and values[0][1] is not None:
                    out.append(Sample(key_of(tags), end_ns, _number(values[0][1])))
        out.sort(key=lambda s: s.key)
        return out

    def aggregate_many(
        self, selector: Selector, start_ns: int, end_ns: int, aggregates: Sequence[Aggregate]
    ) -> dict[Aggregate, list[Sample]]:
        """`aggregate` for several aggregates of one selector and window: the non-RATE ones in
        one statement (InfluxDB's cost is walking the series, not the functions); the same
        samples as one `aggregate` call each."""
        aggs = list(dict.fromkeys(Aggregate(a) for a in aggregates))
        out: dict[Aggregate, list[Sample]] = {a: [] for a in aggs}
        one = [a for a in aggs if a is not Aggregate.RATE]
        for a in aggs:
            if a is Aggregate.RATE or len(one) < 2:
                out[a] = self.aggregate(selector, start_ns, end_ns, a)
        if len(one) < 2 or (selector.hosts is not None and not selector.hosts):
            return out
        f = encode_name(selector.field)
        m = encode_name(selector.measurement)
        conds = time_range(start_ns, end_ns) + tag_conditions(None, selector.tags)
        if selector.hosts is not None:
            conds.append(f"{ident('host')} =~ {_host_regex(selector.hosts)}")
        cols = ", ".join(f"{a.value}({ident(f)}) AS {ident(a.value)}" for a in one)
        (result,) = self._query(
            [f"SELECT {cols} FROM {self._src(self._raw, m)}{where(conds)} GROUP BY *"]
        )
        key_of = _KeyDecoder(m, f)
        for _, tags, columns, values in _series(result):
            if not values:
                continue
            key = key_of(tags)
            row = dict(zip(columns, values[0], strict=False))
            for a in one:
                v = row.get(a.value)
                if v is not None:
                    out[a].append(Sample(key, end_ns, _number(v)))
        for a in one:
            out[a].sort(key=lambda s: s.key)
        return out

    def summary(
        self, selector: Selector, start_ns: int, end_ns: int, now_ns: int | None = None
    ) -> Summary:
        """avg/min/max exact; p95/p99 exact on raw (one or two requests), estimated on rollups."""
        now = self._clock() if now_ns is None else now_ns
        empty = Summary(0, None, None, None, None, None)
        if selector.hosts is not None and not selector.hosts:
            return empty
        tier = pick_tier(self.tiers, start_ns, 0, now)
        f = encode_name(selector.field)
        src = self._src(tier.name, encode_name(selector.measurement))
        w = self._selector_where(selector, start_ns, end_ns)
        if not tier.is_raw:
            cols = ", ".join(ident(f"{f}_{s}") for s in ROLLUP_STATS)
            (result,) = self._query([f"SELECT {cols} FROM {src}{w}"])
            rows: list[tuple[float, float, float, float, float]] = [
                (float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]))
                for _, _, _, values in _series(result)
                for r in values
                if None not in r[1:6]
            ]
            return summary_of_rollups(rows)
        fi = ident(f)
        stmts = [f"SELECT count({fi}), mean({fi}), min({fi}), max({fi}) FROM {src}{w}"]
        # The values above p95 need the count first. The same question (selector and range
        # length) usually has about the same count as last time: ask top() for that many
        # plus a margin in the same request, so a repeated summary is one round trip.
        memo = (
            selector.measurement,
            selector.field,
            None if selector.hosts is None else tuple(selector.hosts),
            tuple(sorted(selector.tags.items())),
            (end_ns - start_ns) // NS,
        )
        guess = self._summary_counts.get(memo)
        if guess is not None:
            hi = guess + guess // 20 + 16
            spec_n = min(SUMMARY_TOP_MAX, hi - percentile_ranks(hi, 95.0)[0])
            stmts.append(f"SELECT top({fi}, {integer(spec_n)}) FROM {src}{w}")
        results = self._query(stmts)
        stats = [r for _, _, _, values in _series(results[0]) for r in values]
        if not stats or not stats[0][1]:
            return empty
        n, avg, mn, mx = int(stats[0][1]), stats[0][2], stats[0][3], stats[0][4]
        if len(self._summary_counts) >= SUMMARY_MEMO_MAX:
            self._summary_counts.clear()
        self._summary_counts[memo] = n
        # InfluxQL's percentile() is nearest-rank: asking for rank (k+1)*100/n returns the
        # k-th smallest value exactly, so the two neighbours of each linear-interpolation
        # position are fetched and interpolated here, matching the SQL store to the bit.
        ranks = {q: percentile_ranks(n, q) for q in (95.0, 99.0)}
        wanted = sorted({k for lo, hi, _ in ranks.values() for k in (lo, hi)})
        top_n = n - wanted[0]
        top: list[float] = []
        if len(results) > 1:
            # The K largest values (K = spec_n, or all n if fewer): enough if K >= top_n.
            spec = sorted(
                (float(r[1]) for _, _, _, values in _series(results[1]) for r in values),
                reverse=True,
            )
            if len(spec) == min(spec_n, n) and len(spec) >= top_n:
                top = spec[:top_n]
        if not top and top_n <= SUMMARY_TOP_MAX:
            # One top() (a bounded heap in influxd) returns every value from the lowest
            # wanted rank up: far cheaper than one full sort per percentile() call.
            (result,) = self._query([f"SELECT top({fi}, {integer(top_n)}) FROM {src}{w}"])
            top = sorted(
                (float(r[1]) for _, _, _, values in _series(result) for r in values),
                reverse=True,
            )
        if len(top) == top_n:
            kth = {k: top[n - 1 - k] for k in wanted}
        else:  # too many values to fetch (or a server whose top() answered short)
            cols = ", ".join(
                f"percentile({fi}, {number((k + 1) * 100.0 / n)}) AS {ident(f'k{k}')}"
                for k in wanted
            )
            (result,) = self._query([f"SELECT {cols} FROM {src}{w}"])
            row = next(r for _, _, _, values in _series(result) for r in values)
            kth = {k: float(v) for k, v in zip(wanted, row[1:], strict=True)}

        def interp(q: float) -> float:
            lo, hi, frac = ranks[q]
            return kth[lo] + (kth[hi] - kth[lo]) * frac

        return Summary(n, float(avg), float(mn), float(mx), interp(95.0), interp(99.0))

    def hosts(self) -> list[str]:
        """Every value of the host tag in the database."""
        (result,) = self._query(
            [f"SHOW TAG VALUES ON {ident(self.database)} WITH KEY = {ident('host')}"]
        )
        return sorted({decode_name(r[1]) for _, _, _, values in _series(result) for r in values})

    def series(self, host: str) -> list[SeriesKey]:
        """Every series of a host, in any tier."""
        w = where([f"{ident('host')} = {literal(encode_name(host))}"])
        results = self._query(
            [f"SELECT last(*) FROM {self._all(t.name)}{w} GROUP BY *" for t in self.tiers]
        )
        keys: set[SeriesKey] = set()
        for tier, result in zip(self.tiers, results, strict=True):
            for name, tags, cols, values in _series(result):
                for col, val in zip(cols[1:], values[0][1:], strict=False):
                    if val is None or not col.startswith("last_"):
                        continue
                    field = col[5:]
                    if not tier.is_raw:
                        if not field.endswith("_mean"):
                            continue
                        field = field[: -len("_mean")]
                    keys.add(_key(name, tags, field))
        return sorted(keys)

    def delete_host(self, host: str) -> None:
        """Drop every series of the host (DROP SERIES spans every retention policy)."""
        self._query([f"DROP SERIES WHERE {ident('host')} = {literal(encode_name(host))}"])

    # -- retention ---------------------------------------------------------------------------

    def enforce_retention(self, now_ns: int) -> None:
        """Drop shards that ended before each tier's retention (1.x); else the server does it.

        The server's own retention service is authoritative; this makes expiry follow the
        caller's clock and happens at shard granularity.
        """
        try:
            (result,) = self._query(["SHOW SHARDS"])
        except StoreUnavailable:
            raise
        except StoreError as exc:
            log.info("SHOW SHARDS unsupported; the server enforces bucket retention: %s", exc)
            return
        by_name = {t.name: t for t in self.tiers}
        drops = []
        for _, _, cols, values in _series(result):
            for row in values:
                rec = dict(zip(cols, row, strict=False))
                tier = by_name.get(str(rec.get("retention_policy")))
                if rec.get("database") != self.database or tier is None:
                    continue
                if _rfc3339_ns(str(rec["end_time"])) <= now_ns - tier.retention_s * NS:
                    drops.append(f"DROP SHARD {integer(int(rec['id']))}")
        if drops:
            self._query(drops)

    # -- rollups -----------------------------------------------------------------------------

    def _read_state(self) -> dict[str, tuple[int, int]]:
        src = self._src(self._meta, STATE_MEASUREMENT)
        (result,) = self._query(
            [
                f"SELECT watermark, gen FROM {src} GROUP BY {ident('tier')}"
                " ORDER BY time DESC LIMIT 1"
            ]
        )
        state = {}
        for _, tags, _, values in _series(result):
            if values and values[0][1] is not None:
                state[decode_name(tags.get("tier", ""))] = (int(values[0][1]), int(values[0][2]))
        return state

    def _write_state(self, tier: str, watermark: int, gen: int) -> None:
        prefix = series_prefix(STATE_MEASUREMENT, [("tier", encode_name(tier))])
        line = f"{prefix} watermark={watermark}i,gen={gen}i {watermark}\n"
        self._write_lines(line.encode(), self._meta)

    def _read_marks(self, tier: str, after_gen: int) -> list[tuple[int, int]]:
        """(window start, generation) of every dirty mark of `tier` newer than `after_gen`."""
        src = self._src(self._meta, DIRTY_MEASUREMENT)
        conds = [f"{ident('tier')} = {literal(encode_name(tier))}", f"gen > {integer(after_gen)}"]
        (result,) = self._query([f"SELECT gen FROM {src}{where(conds)}"])
        return [(int(t), int(g)) for _, _, _, values in _series(result) for t, g in values]

    def _source_fields(self, src: Tier) -> dict[str, list[str]]:
        """Stored measurement -> stored raw field names that can be rolled up from `src`."""
        (result,) = self._query(
            [f"SHOW FIELD KEYS ON {ident(self.database)} FROM {ident(src.name)}./.*/"]
        )
        out: dict[str, list[str]] = {}
        for name, _, _, values in _series(result):
            if name in (STATE_MEASUREMENT, DIRTY_MEASUREMENT):
                continue
            types = {r[0]: r[1] for r in values}
            if src.is_raw:
                fields = [k for k, t in types.items() if t in ("float", "integer")]
            else:
                fields = [
                    k[: -len("_mean")]
                    for k in types
                    if k.endswith("_mean")
                    and all(f"{k[: -len('_mean')]}_{s}" in types for s in ROLLUP_STATS)
                ]
            if fields:
                out[name] = sorted(fields)
        return out

    def _rollup_range(
        self, src: Tier, dst: Tier, start: int, end: int, fields: dict[str, list[str]]
    ) -> None:
        stmts = []
        names = sorted(fields)
        for m in names:
            cols = []
            for f in fields[m]:
                if src.is_raw:
                    fi = ident(f)
                    cols += [f"min({fi})", f"max({fi})", f"count({fi})", f"sum({fi})"]
                else:
                    cols += [
                        f"min({ident(f + '_min')})",
                        f"max({ident(f + '_max')})",
                        f"sum({ident(f + '_count')})",
                        f"sum({ident(f + '_sum')})",
                    ]
            cols = [f"{c} AS {ident(f'c{i}')}" for i, c in enumerate(cols)]
            stmts.append(
                f"SELECT {', '.join(cols)} FROM {self._src(src.name, m)}"
                f"{where(time_range(start, end))}"
                f" GROUP BY time({integer(dst.resolution_s)}s), * fill(none)"
            )
        lines: list[str] = []
        for m, result in zip(names, self._query(stmts), strict=True):
            keys = [tuple(escape_key(f"{f}_{s}") + "=" for s in ROLLUP_STATS) for f in fields[m]]
            for name, tags, _, values in _series(result):
                prefix = series_prefix(name, tags.items())
                for row in values:
                    parts = []
                    for i, (k_mean, k_min, k_max, k_count, k_sum) in enumerate(keys):
                        mn, mx, count, total = row[1 + 4 * i : 5 + 4 * i]
                        if not count or mn is None:
                            continue
                        parts.append(
                            f"{k_mean}{float(total) / float(count)!r},{k_min}{float(mn)!r},"
                            f"{k_max}{float(mx)!r},{k_count}{float(count)!r},{k_sum}{float(total)!r}"
                        )
                    if parts:
                        lines.append(f"{prefix} {','.join(parts)} {row[0]}")
        for i in range(0, len(lines), WRITE_CHUNK_POINTS):
            self._write_lines(
                ("\n".join(lines[i : i + WRITE_CHUNK_POINTS]) + "\n").encode(), dst.name
            )

    def rollup(self, now_ns: int) -> RollupReport:
        """Roll up every closed window past each tier's watermark, then every dirty window."""
        report: dict[str, int] = {}
        if len(self.tiers) < 2:
            return RollupReport(report)
        state = self._read_state()
        source_limit = now_ns - self._delay_ns
        for k in range(1, len(self.tiers)):
            src, dst = self.tiers[k - 1], self.tiers[k]
            res = dst.resolution_s * NS
            wm, last_gen = state.get(dst.name, (align_down(now_ns - src.retention_s * NS, res), 0))
            limit = max(wm, align_down(source_limit, res))
            marks = self._read_marks(dst.name, last_gen - GEN_OVERLAP_NS)
            max_gen = max((g for _, g in marks), default=last_gen)
            # Marks at or below last_gen were handled by the previous run; they are re-read
            # (GEN_OVERLAP_NS) only to catch one whose write raced with that run, and are
            # recomputed again silently: not counted, not cascaded.
            fresh = sorted({w for w, g in marks if g > last_gen and w < wm})
            again = sorted({w for w, g in marks if g <= last_gen and w < wm} - set(fresh))
            dirty = fresh
            ranges = merge_ranges([(wm, limit)] + [(w, w + res) for w in fresh + again])
            fields = self._source_fields(src) if ranges else {}
            span = res * self._chunk_windows
            for a, b in ranges:
                for c in range(a, b, span):
                    self._rollup_range(src, dst, c, min(b, c + span), fields)
                    if min(b, c + span) > wm and a >= wm:
                        # Progress survives an interrupted catch-up; marks are not yet done.
                        self._write_state(dst.name, min(b, c + span), last_gen)
            if dirty and k + 1 < len(self.tiers):
                nxt = self.tiers[k + 1]
                nwm = state.get(nxt.name, (None, 0))[0]
                up = {align_down(w, nxt.resolution_s * NS) for w in dirty}
                up = {w for w in up if nwm is not None and w < nwm}
                if up:
                    self._mark_dirty(nxt.name, up)
            self._write_state(dst.name, limit, max(last_gen, max_gen))
            report[dst.name] = (limit - wm) // res + len(dirty)
            source_limit = limit
        return RollupReport(report)
