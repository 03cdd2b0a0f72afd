"""A lean keep-alive POST client for line-protocol writes, on the standard library.

The write path sends one request per few thousand points, and httpx's layers cost about
1 ms of CPU per request, four times http.client's: writes use this pool of
`http.client` connections, reads (rarer, with richer needs) stay on httpx.
"""

from __future__ import annotations

import base64
import http.client
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from fleetmon_db.timeseries.model import StoreUnavailable

# Raised when a kept-alive connection was closed by the server while idle.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclass(frozen=True, slots=True)
class Answer:
    """Status, reason and body of one response."""

    status: int
    reason: str
    body: bytes


def unreachable(target: Target, exc: BaseException) -> StoreUnavailable:
    """The error for a server that could not be reached (or answered nothing usable)."""
    return StoreUnavailable(f"InfluxDB at {target.url} unreachable: {exc!r}")


def basic_auth(username: str, password: str) -> str:
    """The value of an `Authorization: Basic` header."""
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def ssl_context(verify: bool | str) -> ssl.SSLContext:
    """Verified by default; a path is a CA bundle; False turns verification off."""
    ctx = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    if verify is False:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


@dataclass(frozen=True, slots=True)
class Target:
    """Where a pool connects: host, port, base path and TLS context (None for http)."""

    url: str
    host: str
    port: int
    base: str
    ssl: ssl.SSLContext | None

    @classmethod
    def parse(cls, base_url: str, verify: bool | str) -> Target:
        """An http(s) URL's target; ValueError for anything else."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        https = parts.scheme == "https"
        return cls(
            url=base_url,
            host=parts.hostname,
            port=parts.port or (443 if https else 80),
            base=parts.path.rstrip("/"),
            ssl=ssl_context(verify) if https else None,
        )


class PostPool:
    """POSTs over a small pool of keep-alive connections to one server; thread-safe."""

    def __init__(
        self, target: Target, headers: dict[str, str], *, timeout: float, max_idle: int = 8
    ) -> None:
        self._target = target
        self._headers = dict(headers)
        self._timeout = timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._max_idle = max_idle
        self._lock = threading.Lock()

    def _connect(self) -> http.client.HTTPConnection:
        t = self._target
        if t.ssl is not None:
            return http.client.HTTPSConnection(t.host, t.port, timeout=self._timeout, context=t.ssl)
        return http.client.HTTPConnection(t.host, t.port, timeout=self._timeout)

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._connect(), False

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def post(self, path: str, body: bytes, content_type: str) -> Answer:
        """POST `body` to `path` (with its query string); StoreUnavailable if unreachable.

        A request that fails on a reused connection the server had closed is sent once more
        on a new one: for line-protocol writes (explicit timestamps) a resend is harmless.
        """
        headers = {**self._headers, "Content-Type": content_type}
        while True:
            conn, reused = self._take()
            try:
                conn.request("POST", self._target.base + path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except _STALE as exc:
                conn.close()
                if reused:
                    continue
                raise unreachable(self._target, exc) from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise unreachable(self._target, exc) from exc
            if resp.will_close:
                conn.close()
            else:
                self._give_back(conn)
            return Answer(resp.status, resp.reason, data)

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
