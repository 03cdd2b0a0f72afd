"""The one place InfluxQL is sent: /query and /ping, and how InfluxDB's errors are read.

Every statement of the InfluxDB store goes through `InfluxClient.query`, and every error
answer (of /query and of /write) is read by `error_text` and `check_status`, in the shapes
of 1.x, 2.x and 3.x; what differs by version beyond that is decided in version.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import orjson

from fleetmon_db.timeseries.influx._http.post import basic_auth
from fleetmon_db.timeseries.influx.influxql import ident
from fleetmon_db.timeseries.model import StoreError, StoreTimeout, StoreUnavailable

STATEMENTS_PER_REQUEST = 50

Result = dict[str, Any]


def error_text(body: bytes, reason: str) -> str:
    """InfluxDB's message, else the body's start, else the reason phrase.

    The three shapes: 1.x `{"error": "..."}`; 2.x `{"code": "...", "message": "..."}`
    (kit/transport/http/error_handler.go); 3.x `{"error": "...", "data": [...]}`, where
    `data` lists the rejected lines of a partial write (influxdb3_server http.rs).
    """
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        if parsed.get("error"):
            text = str(parsed["error"])
            data = parsed.get("data")
            if isinstance(data, list) and data:
                first = data[0] if isinstance(data[0], dict) else {}
                detail = first.get("error_message") or ""
                text += f" ({len(data)} lines rejected{': ' + str(detail) if detail else ''})"
            return text
        if parsed.get("message"):
            return str(parsed["message"])
    return body.decode("utf-8", "replace").strip()[:500] or reason


def check_status(status: int, text: Callable[[], str]) -> None:
    """Raise StoreUnavailable on 5xx/429 (retry later), StoreError on other 4xx."""
    if status >= 500 or status == 429:
        raise StoreUnavailable(f"InfluxDB answered {status}: {text()}")
    if status >= 400:
        raise StoreError(f"InfluxDB rejected the request ({status}): {text()}")


def auth_headers(token: str | None, username: str | None, password: str | None) -> dict[str, str]:
    """Headers every request carries: JSON answers and the credentials (token first)."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    elif username:
        headers["Authorization"] = basic_auth(username, password or "")
    return headers


class InfluxClient:
    """InfluxQL over a pooled httpx client, for one database."""

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
        self.url = url.rstrip("/")
        self.database = database
        self._client = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=timeout,
            verify=verify,
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self._client.request(method, path, **kwargs)
        except httpx.ReadTimeout as exc:
            raise StoreTimeout(f"InfluxDB at {self.url} did not answer in time: {exc!r}") from exc
        except httpx.TransportError as exc:  # connection refused/reset, timeouts, DNS
            raise StoreUnavailable(f"InfluxDB at {self.url} unreachable: {exc!r}") from exc
        check_status(resp.status_code, lambda: error_text(resp.content, resp.reason_phrase))
        return resp

    def ping(self) -> tuple[str, str]:
        """The server's version and build (from /ping); StoreUnavailable unless it answers."""
        resp = self._send("GET", "/ping")
        return (
            resp.headers.get("X-Influxdb-Version", ""),
            resp.headers.get("X-Influxdb-Build", ""),
        )

    def api(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        accept: Sequence[int] = (),
    ) -> httpx.Response:
        """A request to one of the server's own APIs (2.x /api/v2, 3.x /api/v3).

        Statuses in `accept` are returned as they are; other errors raise as `_send` does.
        """
        try:
            resp = self._client.request(method, path, params=params, json=json_body)
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"InfluxDB at {self.url} unreachable: {exc!r}") from exc
        if resp.status_code not in accept:
            check_status(resp.status_code, lambda: error_text(resp.content, resp.reason_phrase))
        return resp

    def query(self, statements: Sequence[str], *, rp: str | None = None) -> list[Result]:
        """One result per statement (one request per STATEMENTS_PER_REQUEST); raise on any error.

        `rp`: the retention policy of sources without one. SHOW statements name their
        database with `ON` and take the RP from here, never from a qualified FROM (3.x
        refuses "retention policy in from clause"), which 1.x, 2.x and 3.7+ all accept.
        """
        out: list[Result] = []
        params = {"db": self.database, "epoch": "ns"}
        if rp is not None:
            params["rp"] = rp
        for i in range(0, len(statements), STATEMENTS_PER_REQUEST):
            chunk = statements[i : i + STATEMENTS_PER_REQUEST]
            resp = self._send("POST", "/query", data={"q": ";\n".join(chunk), **params})
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

    def source(self, rp: str, stored_measurement: str) -> str:
        """``"db"."rp"."measurement"`` for an already-encoded measurement name."""
        return f"{ident(self.database)}.{ident(rp)}.{ident(stored_measurement)}"

    def every_measurement(self, rp: str) -> str:
        """``"db"."rp"./.*/``: every measurement of a retention policy."""
        return f"{ident(self.database)}.{ident(rp)}./.*/"

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
