"""Keep-alive POSTs from an event loop, for line-protocol writes made by async callers.

The API's ingest handler runs on the event loop. Handing each write to a worker thread
costs a wake-up both ways and, worse, a wait for the GIL while the loop parses the next
request, so writes queue behind parsing instead of overlapping it. Here the write is
non-blocking socket I/O on the loop itself; h11 does the HTTP/1.1 framing.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import h11

from fleetmon_db.timeseries.httppost import Answer, Target, unreachable

_READ = 65_536


class _Closed(Exception):
    """The server closed the connection before answering at all."""


@dataclass(slots=True)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    http: h11.Connection

    def abort(self) -> None:
        with contextlib.suppress(RuntimeError):  # its event loop is already closed
            self.writer.transport.abort()


class AsyncPostPool:
    """POSTs over keep-alive connections to one server, from one event loop at a time.

    Close it with `aclose` on the loop that used it: a connection can only be closed while
    its loop still runs.
    """

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        timeout: float,
        verify: bool | str = True,
        max_idle: int = 8,
    ) -> None:
        self._target = Target.parse(base_url, verify)
        host = self._target.host
        self._headers = [("Host", f"{host}:{self._target.port}"), *headers.items()]
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
        return _Conn(reader, writer, h11.Connection(h11.CLIENT))

    async def post(self, path: str, body: bytes, content_type: str) -> Answer:
        """POST `body` to `path` (with its query string); StoreUnavailable if unreachable.

        A request that finds a reused connection closed by the server is sent once more on
        a new one: for line-protocol writes (explicit timestamps) a resend is harmless.
        """
        request = h11.Request(
            method="POST",
            target=self._target.base + path,
            headers=[
                *self._headers,
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
            ],
        )
        while True:
            conn = self._take()
            reused = conn is not None
            try:
                async with asyncio.timeout(self._timeout):
                    if conn is None:
                        conn = await self._connect()
                    answer = await self._exchange(conn, request, body)
            except (_Closed, ConnectionResetError, BrokenPipeError) as exc:
                if conn is not None:
                    conn.abort()
                if reused:
                    continue
                raise unreachable(self._target, exc) from exc
            except (OSError, TimeoutError, h11.ProtocolError) as exc:
                if conn is not None:
                    conn.abort()
                raise unreachable(self._target, exc) from exc
            except BaseException:  # cancelled mid-exchange: the connection's state is unknown
                if conn is not None:
                    conn.abort()
                raise
            self._give_back(conn)
            return answer

    async def _exchange(self, conn: _Conn, request: h11.Request, body: bytes) -> Answer:
        http = conn.http
        conn.writer.write(http.send(request) or b"")
        # Passthrough: the body is written as it is, not copied into a framed buffer.
        conn.writer.writelines(http.send_with_data_passthrough(h11.Data(data=body)) or [])
        conn.writer.write(http.send(h11.EndOfMessage()) or b"")
        await conn.writer.drain()
        response: h11.Response | None = None
        chunks: list[bytes] = []
        heard = False
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                data = await conn.reader.read(_READ)
                if not data and not heard:
                    raise _Closed("connection closed before any answer")
                heard = True
                http.receive_data(data)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise h11.RemoteProtocolError("connection closed mid-answer")
        if response is None:  # h11 ends a message only after its Response
            raise h11.RemoteProtocolError("an answer without a status line")
        return Answer(response.status_code, response.reason.decode("latin-1"), b"".join(chunks))

    def _give_back(self, conn: _Conn) -> None:
        http = conn.http
        if (
            http.our_state is h11.DONE
            and http.their_state is h11.DONE
            and len(self._idle) < self._max_idle
        ):
            http.start_next_cycle()
            self._idle.append(conn)
        else:
            conn.abort()

    def close(self) -> None:
        """Abort every idle connection (they finish closing when their loop next runs)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.abort()

    async def aclose(self) -> None:
        """Close every idle connection, on the running loop."""
        self.close()
        await asyncio.sleep(0)  # the transports close their sockets in a loop callback
