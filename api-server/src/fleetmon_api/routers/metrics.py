"""Queries: current values, history, summary, per-category views and the fleet overview."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetmon_api import services
from fleetmon_api.catalog import CATEGORY_MEASUREMENTS, LOOPBACK_INTERFACES, Category
from fleetmon_api.deps import DbSession, State, ViewerUser
from fleetmon_api.errors import ApiError
from fleetmon_api.fleetview import Order, SortKey, select_rows
from fleetmon_api.responses import JSON
from fleetmon_api.state import AppState
from fleetmon_api.timeparse import check_range, parse_duration, parse_instant
from fleetmon_db.metric import split_metric
from fleetmon_db.metric_schema import is_counter
from fleetmon_db.models import Host
from fleetmon_db.timeseries import NS, Aggregate, RangeQuery, Sample, Selector, SeriesKey

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"])

HostQ = Annotated[str, Query(min_length=1, max_length=253, description="host name")]
MetricQ = Annotated[str, Query(min_length=3, max_length=300, description="measurement.field")]
TimeQ = Annotated[str | None, Query(max_length=40, description="epoch seconds or ISO 8601")]
TagQ = Annotated[
    list[str] | None, Query(max_length=16, description="tag filter key=value (repeatable)")
]
_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such host"},
    422: {"description": "Invalid parameters"},
}
MAX_BUCKETS = 2000


def _tags(tag: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in tag or []:
        k, sep, v = item.partition("=")
        if not sep or not k or len(k) > 128 or len(v) > 256:
            raise ApiError(422, f"tag: {item[:60]!r} must be key=value")
        out[k] = v
    return out


def _metric(metric: str) -> tuple[str, str]:
    """(measurement, field) of a `metric` parameter; 422 naming it otherwise."""
    try:
        return split_metric(metric)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None


def _require_host(db: DbSession, host: str) -> None:
    if db.scalar(select(Host.id).where(Host.name == host)) is None:
        raise ApiError(404, f"host {host!r} not found")


# bool first: pydantic's smart unions keep each JSON type as it came (True stays true, 3 stays 3).
SampleValue = bool | int | float | str


class SampleOut(BaseModel):
    """The latest value of one series."""

    measurement: str
    field: str
    tags: dict[str, str]
    time: float = Field(description="epoch seconds of the sample")
    value: SampleValue


class CurrentOut(BaseModel):
    """Latest value of every series of a host."""

    host: str
    series: list[SampleOut]


class TierPart(BaseModel):
    """The part of a history answer one storage tier gave: [from, to) in epoch seconds."""

    name: str = Field(description="storage tier: raw, 5m, 1h or 1d")
    from_: float = Field(alias="from")
    to: float


class HistorySeries(BaseModel):
    """One series of a history answer: [epoch seconds, value or null] per bucket."""

    tags: dict[str, str]
    tier: str = Field(description="the coarsest storage tier that answered: raw, 5m, 1h or 1d")
    tiers: list[TierPart] = Field(
        description="every tier's part, oldest first: the chosen tier where its windows are"
        " rolled up, finer tiers for the rest up to the end"
    )
    points: list[tuple[float, float | None]]


class HistoryOut(BaseModel):
    """Bucketed values of one metric of a host."""

    host: str
    metric: str
    aggregate: Aggregate
    interval: int = Field(description="bucket width in seconds")
    start: float
    end: float
    series: list[HistorySeries]


class SummaryOut(BaseModel):
    """Statistics of one metric of a host over a range (every matching series together)."""

    host: str
    metric: str
    start: float
    end: float
    count: int
    avg: float | None
    min: float | None
    max: float | None
    p95: float | None
    p99: float | None
    approximate: bool = Field(description="true when p95/p99 come from rollups")


class CategoryOut(BaseModel):
    """Latest values of one category's measurements of a host, grouped by measurement."""

    host: str
    category: Category
    measurements: dict[str, list[SampleOut]]


def _sample(s: Sample) -> dict[str, Any]:
    return {
        "measurement": s.key.measurement,
        "field": s.key.field,
        "tags": s.key.tag_dict,
        "time": s.time_ns / NS,
        "value": s.value,
    }


def _range(state: AppState, start: str | None, end: str | None) -> tuple[int, int]:
    now = state.now_ns()
    end_ns = parse_instant(end, "end", now)
    start_ns = parse_instant(start, "start", end_ns - 3600 * NS)
    check_range(start_ns, end_ns)
    return start_ns, end_ns


def _unknown_metric(state: AppState, host: str, measurement: str, field: str) -> None:
    """422 if the host never reported this metric (checked only when a query came back empty)."""
    known = {(k.measurement, k.field) for k in state.store.series(host)}
    if (measurement, field) not in known:
        raise ApiError(422, f"metric: unknown metric '{measurement}.{field}' for host {host!r}")


@router.get("/current", response_model=CurrentOut, responses=_404)
def current(host: HostQ, state: State, db: DbSession, _user: ViewerUser) -> dict[str, Any]:
    """Latest value of every series of a host."""
    _require_host(db, host)
    samples = state.store.latest(host)
    return {"host": host, "series": [_sample(s) for s in samples]}


@router.get("/history", response_model=HistoryOut, responses=_404)
def history(
    host: HostQ,
    metric: MetricQ,
    state: State,
    db: DbSession,
    _user: ViewerUser,
    start: TimeQ = None,
    end: TimeQ = None,
    interval: Annotated[str | None, Query(max_length=12, description="30s, 5m, 1h")] = None,
    aggregate: Annotated[
        Aggregate | None, Query(description="default mean; rate for counters")
    ] = None,
    tag: TagQ = None,
) -> dict[str, Any]:
    """Bucketed values; the storage tier is chosen from range and step."""
    measurement, field = _metric(metric)
    start_ns, end_ns = _range(state, start, end)
    span_s = max(1, (end_ns - start_ns) // NS)
    step = parse_duration(interval, "interval") if interval else max(10, -(-span_s // 300))
    if span_s // step > MAX_BUCKETS:
        raise ApiError(422, f"interval: {step}s gives more than {MAX_BUCKETS} buckets")
    _require_host(db, host)
    agg = aggregate or (Aggregate.RATE if is_counter(measurement, field) else Aggregate.MEAN)
    selector = Selector(measurement, field, [host], _tags(tag))
    data = state.store.query_range(
        RangeQuery(selector, start_ns, end_ns, step, agg), state.now_ns()
    )
    if not data:
        _unknown_metric(state, host, measurement, field)
    return {
        "host": host,
        "metric": metric,
        "aggregate": agg.value,
        "interval": step,
        "start": start_ns / NS,
        "end": end_ns / NS,
        "series": [
            {
                "tags": d.key.tag_dict,
                "tier": d.tier,
                "tiers": [
                    {"name": t.tier, "from": t.start_ns / NS, "to": t.end_ns / NS} for t in d.tiers
                ],
                "points": [[t / NS, v] for t, v in d.points],
            }
            for d in data
        ],
    }


@router.get("/summary", response_model=SummaryOut, responses=_404)
def summary(
    host: HostQ,
    metric: MetricQ,
    state: State,
    db: DbSession,
    _user: ViewerUser,
    start: TimeQ = None,
    end: TimeQ = None,
    tag: TagQ = None,
) -> dict[str, Any]:
    """avg, min, max, p95, p99 of a metric over a range (all matching series together)."""
    measurement, field = _metric(metric)
    start_ns, end_ns = _range(state, start, end)
    _require_host(db, host)
    selector = Selector(measurement, field, [host], _tags(tag))
    s = state.store.summary(selector, start_ns, end_ns, state.now_ns())
    if s.count == 0:
        _unknown_metric(state, host, measurement, field)
    return {
        "host": host,
        "metric": metric,
        "start": start_ns / NS,
        "end": end_ns / NS,
        "count": s.count,
        "avg": s.avg,
        "min": s.min,
        "max": s.max,
        "p95": s.p95,
        "p99": s.p99,
        "approximate": s.approximate,
    }


OVERVIEW_WINDOW_S = 600
# Long enough for several samples at any agent interval, short enough to keep the scan cheap.
NET_RATE_WINDOW_S = 120


def _tag(key: SeriesKey, name: str) -> str | None:
    """One tag's value of a series, or None."""
    for k, v in key.tags:
        if k == name:
            return v
    return None


def _overview_values(state: AppState) -> dict[str, dict[str, float | str | None]]:
    """Latest cpu/mem/disk/load and net rates of every host, from the store."""
    now_ns = state.now_ns()
    since = now_ns - OVERVIEW_WINDOW_S * NS
    selectors = [
        Selector("cpu", "usage_idle", None, {"cpu": "cpu-total"}),
        Selector("mem", "used_percent"),
        Selector("disk", "used_percent"),
        Selector("system", "load1"),
    ]
    rate_start = now_ns - NET_RATE_WINDOW_S * NS
    store, pool = state.store, state.overview_pools.reads
    # Three independent store round trips: run them side by side (the store is thread-safe).
    latest_f = pool.submit(store.latest_many, selectors, since)
    rate_f = {
        out: pool.submit(
            store.aggregate, Selector("net", field), rate_start, now_ns, Aggregate.RATE
        )
        for field, out in (("bytes_recv", "net_recv_bps"), ("bytes_sent", "net_sent_bps"))
    }
    latest: dict[str, dict[str, float | str | None]] = defaultdict(dict)
    # Per host: (used_percent, path) of the fullest filesystem.
    fullest: dict[str, tuple[float, str | None]] = {}
    for s in latest_f.result():
        v = s.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        row = latest[s.key.host]
        if s.key.measurement == "cpu":
            row["cpu_percent"] = round(100.0 - float(v), 3)
        elif s.key.measurement == "mem":
            row["mem_percent"] = float(v)
        elif s.key.measurement == "disk":
            # The fullest filesystem is what matters at fleet level, named so an operator
            # sees which one fills up (equal percentages: the first path, whatever the store's
            # order).
            disk = (float(v), _tag(s.key, "path"))
            best = fullest.get(s.key.host)
            if best is None or disk[0] > best[0] or (disk[0] == best[0] and _before(disk, best)):
                fullest[s.key.host] = disk
        else:
            row["load1"] = float(v)
    for host, (percent, path) in fullest.items():
        latest[host]["disk_percent"] = percent
        latest[host]["disk_path"] = path
    for out, fut in rate_f.items():
        # Selector has only exact tag matches, so the loopback series are read and dropped
        # here; what remains is summed per host: traffic in and out of the host.
        sums: dict[str, float] = defaultdict(float)
        for s in fut.result():
            if _tag(s.key, "interface") in LOOPBACK_INTERFACES:
                continue
            if isinstance(s.value, int | float) and not isinstance(s.value, bool):
                sums[s.key.host] += float(s.value)
        for host, total in sums.items():
            latest[host][out] = total
    return dict(latest)


# Fleets larger than this serve the overview's host list from a snapshot at most
# HOST_ROWS_MAX_AGE_S old (new hosts appear, deleted ones go, within HOST_ROWS_FRESH_S or so).
HOST_ROWS_SNAPSHOT_MIN = 1000
HOST_ROWS_FRESH_S = 1.0
HOST_ROWS_MAX_AGE_S = 10.0


def _host_rows(state: AppState, db: Session | None = None) -> list[Any]:
    """(id, name, labels, last_seen) of every host, by name."""
    # Plain columns through Core, not the ORM: a thousand rows through ORM loading (let
    # alone Host instances) cost more than the query.
    stmt = select(Host.id, Host.name, Host.labels, Host.last_seen).order_by(Host.name)
    if db is not None:
        return list(db.connection().execute(stmt).all())
    with state.sessions() as own:
        return list(own.connection().execute(stmt).all())


def _before(a: tuple[float, str | None], b: tuple[float, str | None]) -> bool:
    """Whether disk a's path sorts before disk b's (a path beats none)."""
    return b[1] is None or (a[1] is not None and a[1] < b[1])


class OverviewHost(BaseModel):
    """One host of the fleet overview; a value is absent when the host sent none recently."""

    name: str
    status: str = Field(description="up, stale or down")
    last_seen: datetime | None
    labels: dict[str, str]
    cpu_percent: float | None = Field(None, description="100 - cpu.usage_idle of cpu-total")
    mem_percent: float | None = Field(None, description="mem.used_percent")
    disk_percent: float | None = Field(
        None, description="disk.used_percent of the fullest filesystem"
    )
    disk_path: str | None = Field(
        None, description="mount point (`path` tag) of the fullest filesystem"
    )
    load1: float | None = Field(None, description="system.load1")
    net_recv_bps: float | None = Field(
        None, description="bytes/s received, summed over the interfaces except loopback"
    )
    net_sent_bps: float | None = Field(
        None, description="bytes/s sent, summed over the interfaces except loopback"
    )


class OverviewOut(BaseModel):
    """The fleet overview: one page of the matching hosts and the count of hosts per status."""

    time: float = Field(description="epoch seconds of the answer")
    values_time: float = Field(description="epoch seconds when the store values were read")
    counts: dict[str, int] = Field(description="hosts per status, whole fleet (no filter)")
    total: int = Field(description="hosts matching q and status (every page)")
    offset: int
    hosts: list[OverviewHost]


class StatusFilter(StrEnum):
    """Host status to filter by."""

    UP = "up"
    STALE = "stale"
    DOWN = "down"


# Documented, not validated: the answer is built and rendered straight (see below).
@router.get(
    "/overview",
    response_model=None,
    response_class=JSON,
    responses={200: {"model": OverviewOut, "description": "Every host's status and values"}},
)
def overview(
    state: State,
    db: DbSession,
    _user: ViewerUser,
    q: Annotated[
        str, Query(max_length=200, description="terms, all must match: name text or label k=v")
    ] = "",
    only: Annotated[
        StatusFilter | None, Query(alias="status", description="only hosts in this status")
    ] = None,
    sort: Annotated[SortKey, Query(description="column to sort by")] = SortKey.NAME,
    order: Annotated[Order, Query(description="asc or desc; missing values last")] = Order.ASC,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="page size; none: all")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> JSON:
    """Hosts' status and latest cpu/mem/disk/net/load in one call: filtered, sorted and paged
    here, so a page of a large fleet costs the browser one page.

    The store values come from a per-worker snapshot re-read in the background once older
    than `overview_cache_s` (never served older than `overview_max_age_s`);
    `values_time` says when they were read. Host status is always current.
    """
    now = state.clock()
    now_ns = state.now_ns()
    cfg = state.settings
    # The store read overlaps the metadata query.
    latest_f = state.overview_pools.lookups.submit(
        state.overview_cache.get,
        lambda: _overview_values(state),
        cfg.overview_cache_s,
        cfg.overview_max_age_s,
    )
    # A large fleet's host list comes from a per-worker snapshot (re-read in the background
    # once HOST_ROWS_FRESH_S old): reading thousands of rows per request was most of the
    # overview's time. Small fleets read it per request, so a host shows up at once.
    if state.overview_hosts.large:
        rows, _ = state.overview_hosts.snapshot.get(
            lambda: _host_rows(state), HOST_ROWS_FRESH_S, HOST_ROWS_MAX_AGE_S
        )
    else:
        rows = _host_rows(state, db)
    state.overview_hosts.large = len(rows) > HOST_ROWS_SNAPSHOT_MIN
    latest, values_time = latest_f.result()
    out_hosts = []
    counts: dict[str, int] = defaultdict(int)
    for host_id, name, labels, last_seen in rows:
        # Merged with this process's not yet flushed last-seen data, as host_view does.
        seen = state.presence.get(host_id)
        if seen is not None and (last_seen is None or seen.last_seen > last_seen):
            last_seen = seen.last_seen
        status = services.host_status(last_seen, now, cfg.stale_after_s, cfg.down_after_s)
        counts[status] += 1
        out_hosts.append(
            {
                "name": name,
                "status": status,
                "last_seen": last_seen,  # orjson renders it (as pydantic would)
                "labels": labels or {},
                **latest.get(name, {}),
            }
        )
    shown = select_rows(
        out_hosts, q=q, status=None if only is None else only.value, sort=sort, order=order
    )
    page = shown[offset:] if limit is None else shown[offset : offset + limit]
    # Rendered straight with orjson: FastAPI's generic encoding of 1,000 host dicts costs
    # more than everything else here.
    return JSON(
        {
            "time": now_ns / NS,
            "values_time": values_time,
            "counts": dict(counts),
            "total": len(shown),
            "offset": offset,
            "hosts": page,
        }
    )


@router.get("/{category}", response_model=CategoryOut, responses=_404)
def category(
    category: Category, host: HostQ, state: State, db: DbSession, _user: ViewerUser
) -> dict[str, Any]:
    """Latest values of one category's measurements for a host, grouped by measurement."""
    _require_host(db, host)
    wanted = CATEGORY_MEASUREMENTS[category]
    grouped: dict[str, list[dict[str, Any]]] = {m: [] for m in wanted}
    for s in state.store.latest(host):
        if s.key.measurement in grouped:
            grouped[s.key.measurement].append(_sample(s))
    return {"host": host, "category": category.value, "measurements": grouped}
