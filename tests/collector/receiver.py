"""A real HTTP receiver on loopback that records what agents POST (the test server's ledger)."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (status, headers) for the n-th request (0-based) and its decoded body.
Policy = Callable[[int, dict[str, Any]], tuple[int, dict[str, str]]]


def accept_all(n: int, body: dict[str, Any]) -> tuple[int, dict[str, str]]:
    """Answer 202 to everything."""
    return 202, {}


@dataclass
class Request:
    """One request as the receiver saw it."""

    at: float
    status: int
    batch_id: str
    points: list[dict[str, Any]]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    """Ledger of requests; `accepted` maps batch_id -> points (the server's dedup by batch id)."""

    port: int = 0
    policy: Policy = accept_all
    delay: float = 0.0
    requests: list[Request] = field(default_factory=list)
    accepted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    enroll_response: dict[str, Any] = field(default_factory=dict)
    enroll_requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        """Listen on the port (0: any free one) in a daemon thread."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                body = json.loads(raw)
                if self.path == "/api/v1/hosts/enroll":
                    receiver.enroll_requests.append(body)
                    self._answer(201, receiver.enroll_response, {})
                    return
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    n = len(receiver.requests)
                    status, headers = receiver.policy(n, body)
                    receiver.requests.append(
                        Request(
                            time.monotonic(),
                            status,
                            body["batch_id"],
                            body["points"],
                            dict(self.headers.items()),
                            body,
                        )
                    )
                    if 200 <= status < 300:
                        previous = receiver.accepted.get(body["batch_id"])
                        # The same batch id must always carry the same points.
                        assert previous is None or previous == body["points"]
                        receiver.accepted[body["batch_id"]] = body["points"]
                self._answer(status, {"detail": f"status {status}"}, headers)

            def _answer(self, status: int, doc: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accepted_points(self) -> list[dict[str, Any]]:
        """Every accepted point, once per distinct batch id."""
        with self.lock:
            return [p for pts in self.accepted.values() for p in pts]


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
