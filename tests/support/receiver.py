"""One real HTTP receiver on loopback for every test that needs a fake remote endpoint.

It stands in for what cannot run here (Slack, Discord, ntfy, webhook receivers) and for the
fleetmon server in the agent's tests: it records every request (gzip bodies undone), answers
each one as a `responder` decides (default `status`), can answer fixed documents on chosen
paths (e.g. enrollment), or leaves the whole answer to a `handler` (tests/support/slack.py
answers as Slack does).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The n-th request (0-based) and its body decoded as JSON (None if it is not JSON) ->
# (status, headers) to answer, or None for the receiver's default status.
Responder = Callable[[int, Any], tuple[int, dict[str, str]] | None]


@dataclass
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes  # as sent, Content-Encoding undone
    at: float  # time.monotonic() on arrival
    status: int  # what the receiver answered

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        """One header, whatever its case."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


# A request -> (status, headers with Content-Type, body): the whole answer.
Handler = Callable[[Received], tuple[int, dict[str, str], bytes]]


@dataclass
class Receiver:
    """Records requests and answers them; start() listens, stop() closes."""

    port: int = 0
    status: int = 200
    responder: Responder | None = None
    delay: float = 0.0  # seconds to wait before answering (outside the lock)
    # path -> (status, JSON document): answered as is, recorded like any other request.
    fixed: dict[str, tuple[int, Any]] = field(default_factory=dict)
    handler: Handler | None = None
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        """Listen on the port (0: any free one) in a daemon thread."""
        receiver = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers (clients reuse)

            def do_POST(self) -> None:
                self._handle()

            def do_PUT(self) -> None:
                self._handle()

            def do_GET(self) -> None:
                self._handle()

            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
                    raw = gzip.decompress(raw)
                if receiver.delay and self.path not in receiver.fixed:
                    time.sleep(receiver.delay)
                got = Received(
                    self.command, self.path, dict(self.headers.items()), raw, time.monotonic(), 0
                )
                with receiver.lock:
                    status, headers, data = receiver._answer(len(receiver.requests), got)
                    got.status = status
                    receiver.requests.append(got)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), RequestHandler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def _answer(self, n: int, got: Received) -> tuple[int, dict[str, str], bytes]:
        """What to answer the n-th request (called under the lock)."""
        json_type = {"Content-Type": "application/json"}
        fixed = self.fixed.get(got.path)
        if fixed is not None:
            return fixed[0], json_type, json.dumps(fixed[1]).encode()
        if self.handler is not None:
            return self.handler(got)
        try:
            doc = got.json()
        except ValueError:
            doc = None
        decided = self.responder(n, doc) if self.responder else None
        status, headers = decided or (self.status, {})
        return status, {**json_type, **headers}, json.dumps({"detail": f"status {status}"}).encode()

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def received(self, path: str | None = None) -> list[Received]:
        """Every request so far (to `path` only, if given)."""
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    def ok(self) -> list[Received]:
        """Requests answered 2xx."""
        with self.lock:
            return [r for r in self.requests if r.status < 300]

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        """Wait until `n` requests were answered 2xx; return them."""
        if not wait_until(lambda: len(self.ok()) >= n, timeout, step=0.02):
            raise AssertionError(f"expected {n} delivered requests, got {len(self.ok())}")
        return self.ok()

    # Bodies read as agent batches (the wire contract), for the agent's tests.

    def accepted(self) -> dict[str, list[dict[str, Any]]]:
        """batch_id -> points of every batch answered 2xx (the server's dedup by batch id)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self.ok():
            if r.method != "POST":  # e.g. the agent's probes of /health
                continue
            doc = r.json()
            if not isinstance(doc, dict) or "batch_id" not in doc:
                continue
            previous = out.get(doc["batch_id"])
            # The same batch id must always carry the same points.
            assert previous is None or previous == doc["points"], doc["batch_id"]
            out[doc["batch_id"]] = doc["points"]
        return out

    def accepted_points(self) -> list[dict[str, Any]]:
        """Every accepted point, once per distinct batch id."""
        return [p for pts in self.accepted().values() for p in pts]


def point_key(p: dict[str, Any]) -> tuple[Any, ...]:
    """Identity of a point: measurement, time and tags."""
    return (p["measurement"], p["time"], tuple(sorted(p["tags"].items())))


def wait_until(cond: Callable[[], bool], timeout: float = 20.0, step: float = 0.05) -> bool:
    """Poll `cond` until true or timeout; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()
