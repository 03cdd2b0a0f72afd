"""Ingest: the agent's JSON batches and InfluxDB line protocol (Telegraf, Glances, collectd)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from fleetmon_api.deps import IngestHost
from fleetmon_api.errors import ApiError, points_dropped_error
from fleetmon_api.ingest import decode, influx
from fleetmon_api.ingest.body import Body, read_body
from fleetmon_api.ingest.fieldtypes import PointName, json_point
from fleetmon_api.ingest.reasons import Refusal
from fleetmon_api.ingest.wire import Accepted, BatchIn
from fleetmon_api.keycache import HostIdentity
from fleetmon_api.state import AppState
from fleetmon_db.timeseries import PointBatch, PointsDropped

router = APIRouter(tags=["ingest"])
T = TypeVar("T")
# Points an agent batch may have for its checks to run on the event loop (a few ms at most).
_INLINE_POINTS = 2_000

_ERRORS = {
    400: {"description": "Malformed body; on /write, a partial write naming the lines left out"},
    401: {"description": "Missing, unknown or revoked host key"},
    413: {"description": "Body or decompressed body too large"},
    415: {"description": "Unsupported Content-Encoding"},
    422: {
        "description": "Not stored and never storable: names the first offending point, "
        "`reason` says why (too_old, in_future, invalid, store_dropped, field_type, "
        "cardinality); on /api/v2/write, a partial write naming the lines left out"
    },
    429: {"description": "Rate limited; see Retry-After"},
    503: {"description": "Store unavailable; see Retry-After"},
}


async def _body(request: Request, state: AppState) -> Body:
    """The request body within the size limit, its Content-Encoding to be undone lazily."""
    s = state.settings
    raw = await read_body(request, s.max_body_bytes)
    return Body(raw, request.headers.get("content-encoding"), s.max_decompressed_bytes)


async def _off_loop(state: AppState, inline: bool, work: Callable[[], T]) -> T:
    """Run `work` here when it is small, else in the parse pool (the event loop keeps
    serving other requests meanwhile)."""
    if inline:
        return work()
    return await asyncio.get_running_loop().run_in_executor(state.parse_pool, work)


async def _admit(
    state: AppState, host: HostIdentity, batch: PointBatch, name: PointName = json_point
) -> None:
    """The checks between decoding and the store that depend on what came before: the
    host's cardinality budget, then the field-type contract (422 for this host only)."""
    state.cardinality.check(host.host_id, batch)
    await state.field_types.check(batch, name)


async def _write(state: AppState, batch: PointBatch, endpoint: str) -> int:
    started = time.perf_counter()
    try:
        written = await state.store.async_writer.write_batch(batch)
    except PointsDropped as exc:
        state.telemetry.store_errors.labels("write").inc()
        raise points_dropped_error(exc, len(batch)) from None
    except Exception:
        state.telemetry.store_errors.labels("write").inc()
        raise
    state.telemetry.store_write_latency.observe(time.perf_counter() - started)
    state.telemetry.batches.labels(endpoint).inc()
    state.telemetry.points.labels(endpoint).inc(len(batch))
    return written


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` inlined: a hand-placed request body schema
    sits outside `components`, where `#/$defs/...` references would not resolve."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


@router.post(
    "/api/v1/metrics/collect",
    status_code=202,
    summary="Ingest one batch of points from an agent",
    response_model=Accepted,
    responses=_ERRORS,  # type: ignore[arg-type]
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(BatchIn)}},
        }
    },
)
async def collect(request: Request, host: IngestHost) -> Response:
    """Store a batch for the key's host; a batch_id seen before is acknowledged, not rewritten."""
    state: AppState = request.app.state.fleetmon
    body = await _body(request, state)
    max_points = state.settings.max_points
    batch = await _off_loop(
        state, body.small(), lambda: decode.agent_batch(body.read(), max_points)
    )
    agent = batch.agent
    if agent is not None:
        state.losses.agent_report(
            host.host_id,
            agent.dropped,
            agent.dropped_points,
            agent.quarantined_files,
            agent.clock_offset_s,
        )
    ledger_key = f"{host.host_id}:{batch.batch_id}"
    if await state.ledger.seen(ledger_key):
        state.telemetry.duplicates.inc()
        state.presence.touch(host.host_id, batch.agent_version)
        return _accepted(host, batch.batch_id, batch.size, 0, duplicate=True)
    now_ns = state.now_ns()
    try:
        points = await _off_loop(
            state,
            batch.size <= _INLINE_POINTS,
            lambda: batch.points(host.name, now_ns, state.compiler),
        )
        await _admit(state, host, points)
        written = await _write(state, points, "collect") if points.times else 0
    except ApiError as exc:
        _refused(state, host, exc)
        raise
    if points.times:
        state.late.note(host.host_id, points.times, now_ns)
    await state.ledger.record(ledger_key)
    state.presence.touch(host.host_id, batch.agent_version)
    return _accepted(host, batch.batch_id, len(points), written)


def _refused(state: AppState, host: HostIdentity, exc: ApiError) -> None:
    """Count the points a refusal was about for the host (kept per host, in /metrics).

    Only points that can never be stored count (the ones out of the window, the invalid
    one, a field-type or cardinality offender, those the store dropped): the rest of a
    refused batch is stored once the sender splits it. A 413 counts nothing: the sender
    splits the request and sends it all.
    """
    if exc.reason is not None and exc.reason != Refusal.TOO_LARGE:
        state.losses.refused(host.host_id, exc.reason, 1 if exc.points is None else exc.points)


def _accepted(
    host: HostIdentity, batch_id: str | None, points: int, fields: int, duplicate: bool = False
) -> Response:
    body = {
        "batch_id": batch_id,
        "host": host.name,
        "points": points,
        "fields": fields,
        "duplicate": duplicate,
    }
    return Response(orjson.dumps(body), status_code=202, media_type="application/json")


def _lp_point(i: int) -> str:
    # Blank and comment lines are not points, so the index is not a line number.
    return f"point {i + 1} of the request"


_LP_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


async def _line_protocol(
    request: Request, host: HostIdentity, precision: str, v2: bool
) -> Response:
    state: AppState = request.app.state.fleetmon
    body = await _body(request, state)
    now_ns = state.now_ns()
    try:
        result = await _off_loop(
            state,
            body.small(),
            lambda: decode.line_protocol(body, precision, host.name, state.validator, now_ns),
        )
        await _admit(state, host, result.points, _lp_point)
        if result.points.times:
            await _write(state, result.points, "write")
    except ApiError as exc:
        _refused(state, host, exc)
        raise
    for line in result.rejected:
        # Left out of a partial write: never stored (the valid lines are).
        state.losses.refused(host.host_id, line.reason, 1)
    times = result.points.times
    if times:
        state.late.note(host.host_id, times, now_ns)
        # Senders of line protocol do not measure their clock: estimate it from arrival
        # (lines without a timestamp carry the server's, and read as no offset).
        state.losses.arrival(host.host_id, max(times))
    state.presence.touch(host.host_id, None)
    if not result.rejected:
        return Response(status_code=204)
    return _partial_write(state, result, v2)


def _partial_write(state: AppState, result: decode.LineProtocolWrite, v2: bool) -> Response:
    """InfluxDB's answer to a write with rejected lines, the valid ones being stored.

    Nothing parsed: 400 naming the lines (InfluxDB: "unable to parse ..."). Otherwise a
    partial write, `dropped=N` as InfluxDB counts it: 400 on /write (1.x), 422 on
    /api/v2/write (2.x). Telegraf discards such a batch instead of retrying it, and the
    points that were valid are already stored.
    """
    state.telemetry.rejects.labels("partial_write").inc()
    error = influx.v2_error if v2 else influx.v1_error
    if not result.points.times and all(r.unparsed for r in result.rejected):
        return error(400, result.summary())
    message = f"partial write: {result.summary()} dropped={len(result.rejected)}"
    return error(422 if v2 else 400, message)


@router.post(
    "/write",
    status_code=204,
    summary="InfluxDB 1.x line protocol (Telegraf outputs.influxdb)",
    responses=_ERRORS,  # type: ignore[arg-type]
    openapi_extra=_LP_BODY,
)
async def write_v1(
    request: Request,
    host: IngestHost,
    precision: Annotated[str, Query(max_length=3)] = "ns",
    db: Annotated[str | None, Query(max_length=256, description="ignored")] = None,
) -> Response:
    """Line protocol with the host key as Bearer/Token/Basic password or `p=`."""
    return await _line_protocol(request, host, precision, v2=False)


@router.post(
    "/api/v2/write",
    status_code=204,
    summary="InfluxDB 2.x line protocol (Telegraf outputs.influxdb_v2)",
    responses=_ERRORS,  # type: ignore[arg-type]
    openapi_extra=_LP_BODY,
)
async def write_v2(
    request: Request,
    host: IngestHost,
    precision: Annotated[str, Query(max_length=3)] = "ns",
    org: Annotated[str | None, Query(max_length=256, description="ignored")] = None,
    bucket: Annotated[str | None, Query(max_length=256, description="ignored")] = None,
) -> Response:
    """Line protocol with the host key as `Authorization: Token <key>`."""
    return await _line_protocol(request, host, precision, v2=True)
