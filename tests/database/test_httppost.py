"""The write path's keep-alive POST pools (threads and event loop) against a real server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

import pytest

from fleetmon_db.timeseries import StoreUnavailable
from fleetmon_db.timeseries.influx._http.asyncpost import AsyncPostPool
from fleetmon_db.timeseries.influx._http.post import Answer, PostPool, Target, basic_auth
from tests.support.servers import free_port


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str | None, bytes]] = []
    drop_after_answer = False
    reject = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.path, self.headers.get("Authorization"), body))
        if self.reject:
            # An error answer with a chunked body, as influxd may send.
            self.send_response(400)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"error":', b'"partial write"}'):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if self.drop_after_answer:
            # Close the kept-alive connection without saying so, as an idle timeout does.
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class Pool(Protocol):
    """What the tests drive: PostPool, or AsyncPostPool on one long-lived event loop."""

    @property
    def _idle(self) -> Sequence[object]: ...

    def post(self, path: str, body: bytes, content_type: str) -> Answer: ...

    def close(self) -> None: ...


class _OnLoop:
    """AsyncPostPool driven from synchronous test code, on one event loop throughout."""

    def __init__(self, url: str, headers: dict[str, str], timeout: float) -> None:
        self.pool = AsyncPostPool(Target.parse(url, True), headers, timeout=timeout)
        self.runner = asyncio.Runner()

    @property
    def _idle(self) -> Sequence[object]:
        return self.pool._idle

    def post(self, path: str, body: bytes, content_type: str) -> Answer:
        return self.runner.run(self.pool.post(path, body, content_type))

    def close(self) -> None:
        self.runner.run(self.pool.aclose())
        self.runner.close()


def make_pool(kind: str, url: str, headers: dict[str, str], timeout: float = 5) -> Pool:
    if kind == "threads":
        return PostPool(Target.parse(url, True), headers, timeout=timeout)
    return _OnLoop(url, headers, timeout)


KINDS = ["threads", "event-loop"]


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"seen": [], "drop_after_answer": False})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/base", handler
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.mark.parametrize("kind", KINDS)
def test_posts_reuse_one_connection_and_send_auth(
    server: tuple[str, type[_Handler]], kind: str
) -> None:
    url, handler = server
    pool = make_pool(kind, url, {"Authorization": basic_auth("u", "p:w")})
    for i in range(3):
        answer = pool.post(f"/write?db=x&n={i}", b"m v=1 1\n", "text/plain")
        assert answer.status == 204
        assert len(pool._idle) == 1  # the one connection, back in the pool
    pool.close()
    assert [p for p, _, _ in handler.seen] == [f"/base/write?db=x&n={i}" for i in range(3)]
    assert {a for _, a, _ in handler.seen} == {"Basic dTpwOnc="}
    assert pool._idle == []  # closed


@pytest.mark.parametrize("kind", KINDS)
def test_a_connection_the_server_closed_is_replaced_not_reported(
    server: tuple[str, type[_Handler]], kind: str
) -> None:
    url, handler = server
    handler.drop_after_answer = True
    pool = make_pool(kind, url, {})
    for i in range(3):
        assert pool.post("/write", f"m v={i} 1\n".encode(), "text/plain").status == 204
        time.sleep(0.05)  # let the server's close arrive, as between two real writes
    pool.close()
    # Every body arrived exactly once, though each reused connection had been closed.
    assert [b for _, _, b in handler.seen] == [f"m v={i} 1\n".encode() for i in range(3)]


@pytest.mark.parametrize("kind", KINDS)
def test_an_error_answer_keeps_status_and_chunked_body(
    server: tuple[str, type[_Handler]], kind: str
) -> None:
    url, handler = server
    handler.reject = True
    pool = make_pool(kind, url, {})
    answer = pool.post("/write", b"m v=1 1\n", "text/plain")
    pool.close()
    assert (answer.status, answer.reason, answer.body) == (
        400,
        "Bad Request",
        b'{"error":"partial write"}',
    )


@pytest.mark.parametrize("kind", KINDS)
def test_unreachable_server_is_store_unavailable(kind: str) -> None:
    pool = make_pool(kind, f"http://127.0.0.1:{free_port()}", {}, timeout=2)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        pool.post("/write", b"m v=1 1\n", "text/plain")
    pool.close()


def test_a_server_that_never_answers_times_out_as_store_unavailable() -> None:
    with socket.socket() as listener:  # accepts connections (backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        pool = make_pool("event-loop", f"http://127.0.0.1:{listener.getsockname()[1]}", {}, 0.5)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="TimeoutError"):
            pool.post("/write", b"m v=1 1\n", "text/plain")
        assert time.monotonic() - started < 5
        pool.close()


def test_each_event_loop_gets_its_own_connections(server: tuple[str, type[_Handler]]) -> None:
    url, handler = server
    pool = AsyncPostPool(Target.parse(url, True), {}, timeout=5)

    async def post_and_close(i: int) -> Answer:
        try:
            return await pool.post("/write", f"m v={i} 1\n".encode(), "text/plain")
        finally:
            await pool.aclose()

    for i in range(2):  # asyncio.run: a new loop each time
        assert asyncio.run(post_and_close(i)).status == 204
        assert pool._idle == []
    assert len(handler.seen) == 2


@pytest.mark.parametrize(
    "headers", [{"X-Token": "a\r\nX-Evil: 1"}, {"Bad Name": "v"}, {"X:": "v"}, {"": "v"}]
)
def test_header_injection_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="invalid HTTP header"):
        AsyncPostPool(Target.parse("http://127.0.0.1:1", True), headers, timeout=1)


def test_only_http_urls() -> None:
    with pytest.raises(ValueError, match="not an http"):
        Target.parse("ftp://example.invalid", True)
