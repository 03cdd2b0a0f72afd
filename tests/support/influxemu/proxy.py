"""The emulators' shared machinery: the real influxd 1.6.7 behind, an ASGI app in front.

A `Version` answers each request the way its InfluxDB version would, using `Backend` to
reach the real server; `Emulator` serves it with uvicorn on a free loopback port in a
thread of the test process.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from tests.support.influxemu.influxql import Statement, parse, split_statements
from tests.support.servers import free_port

# The operator token every emulated server accepts (its admin token).
TOKEN = "fleetmon-test-token"


@dataclass
class Query:
    """A /query request as a server reads it (form body and URL parameters together)."""

    q: str
    db: str
    rp: str
    params: dict[str, str]


def ident(name: str) -> str:
    """A double-quoted InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer."""
    return Response(
        json.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


class Backend:
    """The real influxd behind the emulator."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=30)

    async def query(self, statements: list[str], **params: str) -> list[dict[str, Any]]:
        """One result per statement (an InfluxDB 1.x answer)."""
        if not statements:
            return []
        resp = await self.http.post("/query", data={"q": ";\n".join(statements), **params})
        body = resp.json()
        if body.get("error"):
            return [{"error": body["error"]} for _ in statements]
        results: list[dict[str, Any]] = body.get("results") or []
        return results + [{} for _ in range(len(statements) - len(results))]

    async def tag_values(self, db: str, rp: str, key: str) -> dict[str, Any]:
        """SHOW TAG VALUES WITH KEY = key, of one RP only (1.6.7's own spans every RP)."""
        src = f"{ident(db)}.{ident(rp)}./.*/"
        (res,) = await self.query([f"SELECT last(*) FROM {src} GROUP BY {ident(key)}"])  # noqa: S608
        if res.get("error"):
            return res
        by_name: dict[str, set[str]] = {}
        for s in res.get("series") or ():
            value = (s.get("tags") or {}).get(key, "")
            if value:
                by_name.setdefault(s["name"], set()).add(value)
        series = [
            {"name": n, "columns": ["key", "value"], "values": [[key, v] for v in sorted(vs)]}
            for n, vs in sorted(by_name.items())
        ]
        return {"series": series} if series else {}

    async def retention_policies(self, db: str) -> dict[str, int]:
        """RP name -> duration in seconds (0: infinite) of a database; {} if there is none."""
        (res,) = await self.query([f'SHOW RETENTION POLICIES ON "{db}"'])
        out: dict[str, int] = {}
        for s in res.get("series") or ():
            for row in s["values"]:
                out[row[0]] = _duration_s(row[1])
        return out

    async def forward(self, request: Request, body: bytes) -> httpx.Response:
        """The request as it is, to the real server."""
        return await self.http.request(
            request.method,
            request.url.path,
            params=list(request.query_params.multi_items()),
            content=body,
            headers={k: v for k, v in request.headers.items() if k.lower() in _FORWARDED},
        )

    async def aclose(self) -> None:
        """Close the connections."""
        await self.http.aclose()


_FORWARDED = {"content-type", "content-encoding", "accept"}


def _duration_s(text: str) -> int:
    """Seconds of an InfluxDB 1.x duration such as "168h0m0s" ("0s": infinite)."""
    total, num = 0, ""
    for c in text:
        if c.isdigit():
            num += c
        else:
            total += int(num or 0) * {"h": 3600, "m": 60, "s": 1}.get(c, 0)
            num = ""
    return total


def go_duration(seconds: int) -> str:
    """A duration as Go's time.Duration.String() writes it ("24h0m0s")."""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m}m{s}s" if h else (f"{m}m{s}s" if m else f"{s}s")


async def read_query(request: Request, body: bytes) -> Query:
    """The parameters of a /query request (URL and urlencoded body, body first)."""
    params = dict(request.query_params)
    if body and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        params.update(httpx.QueryParams(body.decode()).items())
    return Query(params.get("q", ""), params.get("db", ""), params.get("rp", ""), params)


class Version:
    """How one InfluxDB version answers; subclasses override the routes that differ."""

    version = ""
    build = ""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.tokens = {TOKEN}

    def headers(self) -> dict[str, str]:
        """The identity every answer carries."""
        return {"X-Influxdb-Version": self.version, "X-Influxdb-Build": self.build}

    async def handle(self, request: Request, body: bytes) -> Response:
        """Route a request."""
        path = request.url.path
        if path == "/ping":
            return await self.ping()
        # 2.x and 3.x (with auth, their default) want `Authorization: Token <token>` on
        # everything but /ping and /health.
        if request.headers.get("authorization") not in {f"Token {t}" for t in self.tokens}:
            return self.unauthorized()
        if path == "/query":
            return await self.query(await read_query(request, body))
        if path == "/write":
            return await self.write(request, body)
        return await self.other(request, body)

    def unauthorized(self) -> Response:
        """401 in this version's error shape."""
        return json_response({"error": "unauthorized access"}, 401, self.headers())

    async def ping(self) -> Response:
        """204 with the version headers."""
        return Response(status_code=204, headers=self.headers())

    async def query(self, query: Query) -> Response:
        """Statement by statement: `statement` answers or lets the real server answer."""
        texts = split_statements(query.q)
        results: list[dict[str, Any] | None] = []
        send: list[str] = []
        for text in texts:
            answer = await self.statement(parse(text), query)
            results.append(answer)
            if answer is None:
                send.append(text)
            elif "error" in answer:
                break  # like 1.x/2.x: the statements after an error are not executed
        fwd = {k: v for k, v in query.params.items() if k != "q"}
        fwd.update(self.forward_params(query))
        if len(send) == len(texts):  # nothing of this version's own: the answer as it is
            resp = await self.backend.http.post("/query", data={"q": ";\n".join(send), **fwd})
            return Response(
                resp.content,
                resp.status_code,
                headers=self.headers(),
                media_type=resp.headers.get("content-type"),
            )
        done = iter(await self.backend.query(send, **fwd))
        out = []
        for i, r in enumerate(results):
            r = next(done) if r is None else r
            out.append({**r, "statement_id": i})
        return json_response({"results": out}, headers=self.headers())

    def forward_params(self, query: Query) -> dict[str, str]:
        """db/rp parameters the real server gets for the statements it runs."""
        return {}

    async def statement(self, st: Statement, query: Query) -> dict[str, Any] | None:
        """This version's own result for a statement (an error, or what the real server
        would answer differently); None to let the real server run it."""
        return None

    async def write(self, request: Request, body: bytes) -> Response:
        """The real server's answer."""
        resp = await self.backend.forward(request, body)
        return Response(resp.content, resp.status_code, headers=self.headers())

    async def other(self, request: Request, body: bytes) -> Response:
        """Routes this version does not have."""
        return json_response({"code": "not found", "message": "path not found"}, 404)


class Emulator:
    """A `Version` served on a free loopback port, in a thread of this process."""

    def __init__(self, make: Callable[[Backend], Version], backend_url: str) -> None:
        self._make, self._backend_url = make, backend_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.version: Version | None = None
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="influxemu", daemon=True)

    async def _app(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            # The version and its httpx client live and die on the server's own loop.
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.version = self._make(Backend(self._backend_url))
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.version is not None:
                        await self.version.backend.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http" or self.version is None:
            return
        request = Request(scope, receive)
        body = await request.body()
        response = await self.version.handle(request, body)
        await response(scope, receive, send)

    def add_token(self, token: str) -> None:
        """Accept another token too (as an image's set-up creates its admin token)."""
        assert self.version is not None
        self.version.tokens.add(token)

    def start(self) -> Emulator:
        """Serve; return once the port answers."""
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("InfluxDB emulator did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop serving and close the connections to the real server."""
        self._server.should_exit = True
        self._thread.join(30)
