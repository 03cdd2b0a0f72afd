"""The InfluxDB HTTP API surface clients touch before writing: `/ping` and `/query`.

Writes are in routers/ingest.py (`/write`, `/api/v2/write`); `/health` answers InfluxDB
clients in InfluxDB 2's shape from routers/health.py.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from fleetmon_api.deps import ingest_host
from fleetmon_api.ingest import influxql
from fleetmon_api.ingest.influx import API_VERSION, VERSION_HEADERS, v1_error
from fleetmon_api.responses import JSON
from fleetmon_api.state import AppState

router = APIRouter(tags=["influxdb"])

_QUERY_DOC = (
    "Answers SHOW DATABASES, CREATE DATABASE (a no-op), SHOW RETENTION POLICIES and SHOW "
    "MEASUREMENTS (the key's host's) as InfluxDB 1.x does; any other statement is 400. "
    "Host key as for /write."
)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": 'A statement fleetmon does not answer: `{"error": ...}`'},
    401: {"description": "Missing, unknown or revoked host key"},
}


@router.get("/ping", status_code=204, summary="InfluxDB-compatible ping")
async def ping(verbose: Annotated[str | None, Query(max_length=16)] = None) -> Response:
    """204 with InfluxDB's version headers (no authentication, as in InfluxDB); with
    `verbose` (not `false`/`0`), 200 `{"version": ...}` as InfluxDB 1.x answers."""
    if verbose not in (None, "", "0", "false"):
        return JSON({"version": API_VERSION}, headers=VERSION_HEADERS)
    return Response(status_code=204, headers=VERSION_HEADERS)


@router.head("/ping", status_code=204, summary="InfluxDB-compatible ping (HEAD)")
async def ping_head() -> Response:
    """As GET /ping: influxdb-client libraries send HEAD."""
    return Response(status_code=204, headers=VERSION_HEADERS)


async def _query(request: Request, q: str | None, db: str | None) -> Response:
    state: AppState = request.app.state.fleetmon
    try:
        host = await ingest_host(request, state)
    except HTTPException as exc:
        return v1_error(exc.status_code, str(exc.detail), dict(exc.headers or {}))
    if q is None:
        return v1_error(400, 'missing required parameter "q"')

    def measurements() -> list[str]:
        return sorted({k.measurement for k in state.store.series(host.name)})

    try:
        # In a worker thread: SHOW MEASUREMENTS reads the store.
        body = await run_in_threadpool(influxql.answer, q, db, measurements)
    except influxql.QueryError as exc:
        return v1_error(400, str(exc))
    return JSON(body, headers=VERSION_HEADERS)


@router.get("/query", summary="InfluxDB 1.x /query (what clients ask before writing)",
            description=_QUERY_DOC, responses=_RESPONSES)  # fmt: skip
async def query_get(
    request: Request,
    q: Annotated[str | None, Query(max_length=influxql.MAX_QUERY)] = None,
    db: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """The statements of `q`, answered like InfluxDB 1.x."""
    return await _query(request, q, db)


@router.post("/query", summary="InfluxDB 1.x /query (q in the URL or a form body)",
             description=_QUERY_DOC, responses=_RESPONSES)  # fmt: skip
async def query_post(
    request: Request,
    q: Annotated[str | None, Query(max_length=influxql.MAX_QUERY)] = None,
    db: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """As GET; Telegraf posts `q` as an `application/x-www-form-urlencoded` body."""
    if q is None and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > 2 * influxql.MAX_QUERY:
                return v1_error(413, f"query longer than {influxql.MAX_QUERY} characters")
        form = parse_qs(raw.decode("utf-8", "replace"))
        q = form.get("q", [None])[0]
        db = db or form.get("db", [None])[0]
    return await _query(request, q, db)
