"""Exception handlers: every error is JSON `{"detail": ...}`, including 404/405/413/429/500/503."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fleetmon_api.ingest.influx import influx_error, is_influx_path
from fleetmon_api.ingest.reasons import Refusal
from fleetmon_api.ratelimit import RateLimited
from fleetmon_api.responses import JSON
from fleetmon_db.timeseries import PointsDropped, StoreError, StoreUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with a status, a message and optional headers, raised from plain functions.

    `reason` (ingest, a `Refusal` value) says in one word why points were not stored: the
    label of fleetmon_ingest_rejects_total, and, in fleetmon's own answers, a field next to
    `detail` so an agent can count its drops by it.
    """

    # None: the rejects label is derived from the status (subclasses set their own).
    reason: str | None = None

    def __init__(
        self,
        status: int,
        detail: object,
        headers: dict[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        if reason is not None:
            self.reason = reason
        # How many points the refusal is about, where the raiser knows (counted per host).
        self.points: int | None = None


def _json(
    request: Request,
    status: int,
    detail: object,
    headers: dict[str, str] | None = None,
    reason: str | None = None,
) -> JSON:
    if isinstance(detail, str) and is_influx_path(request.url.path):
        # InfluxDB clients show `error` (1.x) or `message` (2.x); `detail` is kept too.
        return influx_error(request, status, detail, headers or {})
    body: dict[str, object] = {"detail": detail}
    if reason is not None:
        body["reason"] = reason
    return JSON(body, status_code=status, headers=headers)


def points_dropped_error(exc: PointsDropped, points: int) -> ApiError:
    """422 for a write the store took only part of: retrying cannot store the rest."""
    lost = f"{exc.dropped} of {points}" if exc.dropped is not None else f"some of {points}"
    err = ApiError(
        422,
        f"the store did not keep {lost} points of this request: {exc.reason}; the request "
        "is not acknowledged and retrying it cannot store them",
        reason=Refusal.STORE_DROPPED,
    )
    err.points = exc.dropped if exc.dropped is not None else points
    return err


def _telemetry_reject(request: Request, reason: str) -> None:
    state = getattr(request.app.state, "fleetmon", None)
    if state is not None and request.url.path.endswith(("/collect", "/write")):
        state.telemetry.rejects.labels(reason).inc()


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSON:
        if exc.status_code in (401, 413):
            _telemetry_reject(request, "unauthorized" if exc.status_code == 401 else "too_large")
        return _json(request, exc.status_code, exc.detail, dict(exc.headers or {}))

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSON:
        reason = exc.reason or {413: "too_large", 415: "media_type"}.get(exc.status, "invalid")
        _telemetry_reject(request, reason)
        return _json(request, exc.status, exc.detail, exc.headers, exc.reason)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSON:
        _telemetry_reject(request, "invalid")
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return _json(request, 422, errors)

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> JSON:
        state = getattr(request.app.state, "fleetmon", None)
        if state is not None:
            state.telemetry.rate_limited.labels(request.url.path).inc()
        return _json(
            request,
            429,
            f"rate limit exceeded: {exc.limit}; retry after {exc.retry_after}s",
            {"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(StoreUnavailable)
    async def store_down(request: Request, exc: StoreUnavailable) -> JSON:
        state = getattr(request.app.state, "fleetmon", None)
        retry = state.settings.store_retry_after_s if state is not None else 5
        if state is not None:
            state.telemetry.store_errors.labels("unavailable").inc()
        log.warning("store unavailable: %s", exc)
        return _json(
            request, 503, "time-series store unavailable; retry later", {"Retry-After": str(retry)}
        )

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> JSON:
        log.warning("store rejected request: %s", exc)
        return _json(request, 400, f"store rejected the request: {exc}")

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSON:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _json(request, 500, "internal server error")
