"""A local HTTP receiver standing in for Slack, Discord and webhook endpoints."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (status, headers) to answer a request; None means 200.
Responder = Callable[[int, dict[str, Any]], tuple[int, dict[str, str]] | None]


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; a responder may answer 429/500 for chosen requests."""

    responder: Responder | None = None
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Receiver:
        """Listen on a free loopback port in a thread."""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    n = len(outer.requests)
                    try:
                        doc = json.loads(body)
                    except ValueError:
                        doc = {}
                    answer = outer.responder(n, doc) if outer.responder else None
                    status, headers = answer or (200, {})
                    outer.requests.append(
                        Received(self.path, dict(self.headers), body, time.monotonic(), status)
                    )
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def ok(self) -> list[Received]:
        """Requests answered 2xx."""
        with self.lock:
            return [r for r in self.requests if r.status < 300]

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        """Wait until `n` requests were answered 2xx; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.ok()
            if len(got) >= n:
                return got
            time.sleep(0.02)
        raise AssertionError(f"expected {n} delivered requests, got {len(self.ok())}")
