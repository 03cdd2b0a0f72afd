"""The write path's keep-alive POST pool against a real local HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fleetmon_db.timeseries import StoreUnavailable
from fleetmon_db.timeseries.httppost import PostPool, basic_auth
from tests.support.servers import free_port


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str | None, bytes]] = []
    drop_after_answer = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.path, self.headers.get("Authorization"), body))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if self.drop_after_answer:
            # Close the kept-alive connection without saying so, as an idle timeout does.
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


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


def test_posts_reuse_one_connection_and_send_auth(server: tuple[str, type[_Handler]]) -> None:
    url, handler = server
    pool = PostPool(url, {"Authorization": basic_auth("u", "p:w")}, timeout=5)
    for i in range(3):
        answer = pool.post(f"/write?db=x&n={i}", b"m v=1 1\n", "text/plain")
        assert answer.status == 204
    pool.close()
    assert [p for p, _, _ in handler.seen] == [f"/base/write?db=x&n={i}" for i in range(3)]
    assert {a for _, a, _ in handler.seen} == {"Basic dTpwOnc="}
    assert pool._idle == []  # closed


def test_a_connection_the_server_closed_is_replaced_not_reported(
    server: tuple[str, type[_Handler]],
) -> None:
    url, handler = server
    handler.drop_after_answer = True
    pool = PostPool(url, {}, timeout=5)
    for i in range(3):
        assert pool.post("/write", f"m v={i} 1\n".encode(), "text/plain").status == 204
    pool.close()
    # Every body arrived exactly once, though each reused connection had been closed.
    assert [b for _, _, b in handler.seen] == [f"m v={i} 1\n".encode() for i in range(3)]


def test_unreachable_server_is_store_unavailable() -> None:
    pool = PostPool(f"http://127.0.0.1:{free_port()}", {}, timeout=2)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        pool.post("/write", b"m v=1 1\n", "text/plain")


def test_only_http_urls() -> None:
    with pytest.raises(ValueError, match="not an http"):
        PostPool("ftp://example.invalid", {}, timeout=1)
