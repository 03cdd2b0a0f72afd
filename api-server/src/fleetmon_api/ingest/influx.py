"""What InfluxDB clients read from an answer: version headers, error bodies, the health body.

InfluxDB 1.x clients read an error's text from `{"error": ...}`, 2.x clients from
`{"code": ..., "message": ...}`; fleetmon's own clients read `{"detail": ...}`. Errors on the
InfluxDB endpoints carry both, so every client shows the reason.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from fleetmon_api.responses import JSON

# The InfluxDB API level fleetmon speaks (1.8's /write, /query, /ping and /health; 2.x's
# /api/v2/write): clients gate features on this version, never on the build.
API_VERSION = "1.8.10"
VERSION_HEADERS = {"X-Influxdb-Version": API_VERSION, "X-Influxdb-Build": "fleetmon"}

# InfluxDB 2.x error codes by status (kit/platform/errors: EInvalid, EUnprocessableEntity ...).
_V2_CODES = {
    400: "invalid",
    401: "unauthorized",
    413: "request too large",
    415: "unsupported media type",
    422: "unprocessable entity",
    429: "too many requests",
    503: "unavailable",
}


def v1_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSON:
    """An error as InfluxDB 1.x writes it, with fleetmon's `detail` too."""
    return JSON(
        {"error": message, "detail": message},
        status_code=status,
        headers={**VERSION_HEADERS, **(headers or {})},
    )


def v2_error(status: int, message: str, headers: dict[str, str] | None = None) -> JSON:
    """An error as InfluxDB 2.x writes it, with fleetmon's `detail` too."""
    code = _V2_CODES.get(status, "internal error" if status >= 500 else "invalid")
    return JSON(
        {"code": code, "message": message, "detail": message},
        status_code=status,
        headers={**VERSION_HEADERS, **(headers or {})},
    )


def influx_error(request: Request, status: int, message: str, headers: dict[str, str]) -> JSON:
    """The error shape of the InfluxDB API the request's path belongs to."""
    if request.url.path.startswith("/api/v2/"):
        return v2_error(status, message, headers)
    return v1_error(status, message, headers)


def is_influx_path(path: str) -> bool:
    """Whether `path` is one of the InfluxDB endpoints (their errors take InfluxDB's shape)."""
    return path in ("/write", "/query", "/api/v2/write")


def wants_influx_health(request: Request) -> bool:
    """Whether `/health` was asked by an InfluxDB 2 client rather than fleetmon's own tools.

    influxdb-client libraries (Glances' influxdb2 export, Telegraf's Go client) say who they
    are in User-Agent and send their token as `Authorization: Token ...`; fleetmon's probes
    (compose healthcheck, `fleetmon up`, monitoring) send neither.
    """
    agent = request.headers.get("user-agent", "").lower()
    auth = request.headers.get("authorization", "")
    return agent.startswith("influxdb-client") or auth[:6].lower() == "token "


def health_body(ok: bool) -> dict[str, Any]:
    """InfluxDB 2's `/health` body (http/health.go)."""
    return {
        "name": "influxdb",
        "message": "ready for queries and writes" if ok else "not ready: a dependency is down",
        "status": "pass" if ok else "fail",
        "checks": [],
        "version": API_VERSION,
        "commit": "fleetmon",
    }
