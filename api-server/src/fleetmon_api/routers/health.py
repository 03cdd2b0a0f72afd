"""Liveness/readiness and the server's own Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from fleetmon_api.deps import State, bearer_token, current_user
from fleetmon_api.ingest.influx import VERSION_HEADERS, health_body, wants_influx_health
from fleetmon_api.responses import JSON
from fleetmon_db.timeseries import StoreError

router = APIRouter(tags=["health"])


def _signed_in(request: Request, state: State) -> bool:
    """True if the request carries a valid person's token (any role)."""
    if bearer_token(request) is None:
        return False
    try:
        current_user(request, state)
    except HTTPException:
        return False
    return True


@router.get("/health", summary="Liveness; each dependency's state for signed-in people")
def health(request: Request, state: State) -> JSON:
    """200 when every dependency answers, 503 when one does not.

    Anyone gets `status`; `checks` (each dependency, with the store's error text, which
    names addresses and versions) and `rollups` (each rollup tier's lag and the last run's
    outcome: reported, never a reason for 503) only with a signed-in person's Bearer token.

    InfluxDB 2 clients (they say so in User-Agent, or send `Authorization: Token`) get the
    same verdict in InfluxDB 2's shape, which is what they parse.
    """
    checks: dict[str, dict[str, Any]] = {}
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = {"status": "ok"}
    except Exception as exc:  # noqa: BLE001 - report, never raise, from a health check
        checks["database"] = {"status": "error", "error": type(exc).__name__}
    try:
        state.store.ping()
        checks["store"] = {"status": "ok", "kind": state.store.name}
        server = state.store.server_info()
        if server:  # the server's version and the capability set the store probed
            checks["store"]["server"] = server
    except StoreError as exc:
        checks["store"] = {"status": "error", "kind": state.store.name, "error": str(exc)[:200]}
    ok = all(c["status"] == "ok" for c in checks.values())
    if wants_influx_health(request):
        return JSON(health_body(ok), status_code=200 if ok else 503, headers=VERSION_HEADERS)
    body: dict[str, Any] = {"status": "ok" if ok else "degraded"}
    if _signed_in(request, state):
        body["checks"] = checks
        # Reported, not checked: a lagging tier must not take the API out of service.
        body["rollups"] = state.rollup_lag.detail()
    return JSON(body, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus exposition of the server's own metrics")
def metrics(state: State) -> Response:
    """Counters and histograms in the Prometheus text format."""
    return Response(generate_latest(state.telemetry.registry), media_type=CONTENT_TYPE_LATEST)
