"""Ingest: the agent's JSON batches and InfluxDB line protocol (Telegraf, Glances, collectd)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ValidationError

from fleetmon_api.deps import IngestHost
from fleetmon_api.errors import ApiError
from fleetmon_api.ingest import lineproto, wire
from fleetmon_api.ingest.body import decode_body, read_body
from fleetmon_api.ingest.models import BATCH_ADAPTER, Accepted, BatchIn
from fleetmon_api.keycache import HostIdentity
from fleetmon_api.state import AppState
from fleetmon_db.timeseries import Point, PointBatch

router = APIRouter(tags=["ingest"])

_ERRORS = {
    400: {"description": "Malformed body"},
    401: {"description": "Missing, unknown or revoked host key"},
    413: {"description": "Body or decompressed body too large"},
    415: {"description": "Unsupported Content-Encoding"},
    422: {"description": "Invalid batch; names the first offending point"},
    429: {"description": "Rate limited; see Retry-After"},
    503: {"description": "Store unavailable; see Retry-After"},
}


_TYPE_MISMATCH = frozenset({"bool_type", "int_type", "float_type", "string_type"})


def _first_error(exc: ValidationError) -> str:
    """The most useful error, with a path like `points[3].fields.x` (union members dropped)."""
    errors = exc.errors(include_url=False)
    err = next((e for e in errors if e["type"] not in _TYPE_MISMATCH), errors[0])
    loc = list(err["loc"])
    if "fields" in loc:
        loc = loc[: loc.index("fields") + 2]
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    msg = err["msg"]
    if err["type"] in _TYPE_MISMATCH and "fields" in loc:
        msg = "Input should be a number, a boolean or a string"
    return f"{path or 'body'}: {msg}"


async def _write(state: AppState, batch: PointBatch, endpoint: str) -> int:
    started = time.perf_counter()
    try:
        written = await state.store.awrite_batch(batch)
    except Exception:
        state.telemetry.store_errors.labels("write").inc()
        raise
    state.telemetry.store_write_latency.observe(time.perf_counter() - started)
    state.telemetry.batches.labels(endpoint).inc()
    state.telemetry.points.labels(endpoint).inc(len(batch))
    return written


def _strict(body: bytes) -> Any:
    """The batch as the strict adapter reads it; 422 naming the first error."""
    try:
        return BATCH_ADAPTER.validate_json(body)
    except ValidationError as exc:
        raise ApiError(422, _first_error(exc)) from None


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
    s = state.settings
    raw = await read_body(request, s.max_body_bytes)
    body = decode_body(raw, request.headers.get("content-encoding"), s.max_decompressed_bytes)
    # The fast path accepts only what the adapter and the validator accept; for anything
    # else they decide (and name the error).
    wire_batch = wire.decode(body)
    if wire_batch is None:
        strict = _strict(body)
        batch_id, agent, raw_points = strict["batch_id"], strict.get("agent"), strict["points"]
        version = agent["version"] if agent else None
    else:
        batch_id, raw_points = wire_batch.batch_id, wire_batch.points
        version = wire_batch.agent.version if wire_batch.agent else None
    if len(raw_points) > s.max_points:
        raise ApiError(
            413, f"{len(raw_points)} points exceed the limit of {s.max_points} per batch"
        )
    ledger_key = f"{host.host_id}:{batch_id}"
    if state.ledger.seen(ledger_key):
        state.telemetry.duplicates.inc()
        state.presence.touch(host.host_id, version)
        return _accepted(host, batch_id, len(raw_points), 0, duplicate=True)
    now_ns = state.now_ns()
    points = None
    if wire_batch is not None:
        points = state.compiler.compile(host.name, wire_batch.points, now_ns)
        if points is None:
            raw_points = _strict(body)["points"]
    if points is None:
        points = PointBatch.of(state.validator.points(host.name, raw_points, now_ns))
    written = await _write(state, points, "collect") if points.times else 0
    state.ledger.record(ledger_key)
    state.presence.touch(host.host_id, version)
    return _accepted(host, batch_id, len(points), written)


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


_LP_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


async def _line_protocol(request: Request, host: HostIdentity, precision: str) -> Response:
    state: AppState = request.app.state.fleetmon
    s = state.settings
    multiplier = lineproto.PRECISIONS.get(precision)
    if multiplier is None:
        raise ApiError(400, f"unknown precision {precision!r}; use ns, us, ms, s, m or h")
    raw = await read_body(request, s.max_body_bytes)
    body = decode_body(raw, request.headers.get("content-encoding"), s.max_decompressed_bytes)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "line protocol must be UTF-8") from None
    try:
        lines = lineproto.parse(text)
    except lineproto.LineError as exc:
        raise ApiError(400, f"unable to parse line protocol: {exc}") from None
    if len(lines) > s.max_points:
        raise ApiError(413, f"{len(lines)} points exceed the limit of {s.max_points} per request")
    v = state.validator
    now_ns = state.now_ns()
    lim = v.limits
    points: list[Point] = []
    for number, line in lines:
        where = f"line {number}"
        t = now_ns if line.time is None else line.time * multiplier
        if t < now_ns - lim.max_past_ns or t > now_ns + lim.max_future_ns:
            raise ApiError(422, f"{where}: timestamp outside the accepted window")
        # The `host` tag is forced to the key's host, whatever the line says.
        points.append(v.point(where, host.name, line.measurement, t, line.tags, line.fields))
    if points:
        await _write(state, PointBatch.of(points), "write")
    state.presence.touch(host.host_id, None)
    return Response(status_code=204)


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
    return await _line_protocol(request, host, precision)


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
    return await _line_protocol(request, host, precision)
