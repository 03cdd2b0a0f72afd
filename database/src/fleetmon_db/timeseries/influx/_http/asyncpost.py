"""Keep-alive POSTs from an event loop, for line-protocol writes made by async callers.

The API's ingest handler runs on the event loop. Handing each write to a worker thread
costs a wake-up both ways and, worse, a wait for the GIL while the loop parses the next
request, so writes queue behind parsing instead of overlapping it. Here the write is
non-blocking socket I/O on the loop itself. The request head is built once per pool
(only the path and length change) and the answer is parsed by httptools (llhttp, the
parser uvicorn serves with): a pure-Python HTTP layer cost a tenth of the API's CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass

import httptools

from fleetmon_db.timeseries.influx._http.post import Answer, Target, unreachable

_READ = 65_536
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class _Closed(Exception):
    """The server closed the connection before answering at all."""


class _Broken(Exception):
    """The server closed the connection in the middle of its answer."""


class _Sink:
    """httptools callbacks: collects one answer."""

    __slots__ = ("chunks", "done", "reason")

    def __init__(self) -> None:
        self.reason = b""
        self.chunks: list[bytes] = []
        self.done = False

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.done = True


@dataclass(slots=True)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def abort(self) -> None:
        with contextlib.suppress(RuntimeError):  # its event loop is already closed
            self.writer.transport.abort()


def _head_line(name: str, value: str) -> str:
    """One header line; ValueError for a name that is not a token or a value that breaks
    the line (header injection)."""
    if not _TOKEN.fullmatch(name) or any(c in value for c in "\r\n\0"):
        raise ValueError(f"invalid HTTP header {name!r}")
    return f"{name}: {value}\r\n"


class AsyncPostPool:
    """POSTs over keep-alive connections to one server, from one event loop at a time.

    Close it with `aclose` on the loop that used it: a connection can only be closed while
    its loop still runs.
    """

    def __init__(
        self, target: Target, headers: dict[str, str], *, timeout: float, max_idle: int = 8
    ) -> None:
        self._target = target
        fixed = {"Host": f"{target.host}:{target.port}", **headers}
        self._headers = "".join(_head_line(k, v) for k, v in fixed.items())
        self._timeout = timeout
        self._max_idle = max_idle
        self._idle: list[_Conn] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def _take(self) -> _Conn | None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Connections belong to the loop that opened them.
            self.close()
            self._loop = loop
        return self._idle.pop() if self._idle else None

    async def _connect(self) -> _Conn:
        t = self._target
        reader, writer = await asyncio.open_connection(
            t.host, t.port, ssl=t.ssl, server_hostname=t.host if t.ssl else None
        )
        return _Conn(reader, writer)

    async def post(self, path: str, body: bytes, content_type: str) -> Answer:
        """POST `body` to `path` (with its query string); StoreUnavailable if unreachable.

        A request that finds a reused connection closed by the server is sent once more on
        a new one: for line-protocol writes (explicit timestamps) a resend is harmless.
        """
        target = self._target.base + path
        if any(c in target for c in " \r\n\0"):
            raise ValueError(f"invalid request target {target!r}")
        head = (
            f"POST {target} HTTP/1.1\r\n{self._headers}"
            f"{_head_line('Content-Type', content_type)}Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        while True:
            conn = self._take()
            reused = conn is not None
            try:
                async with asyncio.timeout(self._timeout):
                    if conn is None:
                        conn = await self._connect()
                    answer, keep_alive = await self._exchange(conn, head, body)
            except (_Closed, ConnectionResetError, BrokenPipeError) as exc:
                if conn is not None:
                    conn.abort()
                if reused:
                    continue
                raise unreachable(self._target, exc) from exc
            except (OSError, TimeoutError, _Broken, httptools.HttpParserError) as exc:
                if conn is not None:
                    conn.abort()
                raise unreachable(self._target, exc) from exc
            except BaseException:  # cancelled mid-exchange: the connection's state is unknown
                if conn is not None:
                    conn.abort()
                raise
            if keep_alive and len(self._idle) < self._max_idle:
                self._idle.append(conn)
            else:
                conn.abort()
            return answer

    @staticmethod
    async def _exchange(conn: _Conn, head: bytes, body: bytes) -> tuple[Answer, bool]:
        """Send one request, read its whole answer; the answer and whether to keep alive."""
        conn.writer.write(head)
        conn.writer.write(body)
        await conn.writer.drain()
        sink = _Sink()
        parser = httptools.HttpResponseParser(sink)
        heard = False
        while not sink.done:
            data = await conn.reader.read(_READ)
            if not data:
                raise (_Broken if heard else _Closed)("connection closed by the server")
            heard = True
            parser.feed_data(data)
        answer = Answer(
            parser.get_status_code(), sink.reason.decode("latin-1"), b"".join(sink.chunks)
        )
        return answer, parser.should_keep_alive()

    def close(self) -> None:
        """Abort every idle connection (they finish closing when their loop next runs)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.abort()

    async def aclose(self) -> None:
        """Close every idle connection, on the running loop."""
        self.close()
        await asyncio.sleep(0)  # the transports close their sockets in a loop callback
