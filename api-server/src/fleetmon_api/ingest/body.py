"""Read a request body within a byte cap, and gunzip it lazily within a decompressed-size cap."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from fastapi import Request

from fleetmon_api.errors import ApiError


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body; 413 as soon as it exceeds `max_bytes` (checked before reading it all)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, "invalid Content-Length header") from None
        if size > max_bytes:
            raise ApiError(413, f"request body of {size} bytes exceeds the limit of {max_bytes}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_bytes:
            raise ApiError(413, f"request body exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# Decoded bytes a request may have for its parsing to run on the event loop; a larger body
# is parsed in a worker thread (`Body.small`). Agents' 5-second batches are a few KB.
INLINE_BYTES = 64 * 1024
# Decompressed bytes produced per step (and input bytes fed per step): what one step holds.
_CHUNK = 64 * 1024


class Body:
    """A request body with its Content-Encoding undone lazily, in bounded chunks.

    Nothing is decompressed beyond what the reader consumes, so a parser that stops at a
    limit (too many lines) never pays for the rest of a zip bomb; past `max_decompressed`
    the reader gets 413, for a broken or truncated gzip stream 400.
    """

    def __init__(self, raw: bytes, encoding: str | None, max_decompressed: int) -> None:
        enc = (encoding or "identity").strip().lower()
        if enc not in ("", "identity", "gzip", "x-gzip"):
            raise ApiError(415, f"unsupported Content-Encoding {enc!r}; use gzip or identity")
        self._raw = raw
        self._gzip = enc in ("gzip", "x-gzip")
        self._max = max_decompressed
        self._gen = self._gunzip() if self._gzip else self._slices()
        self._head: list[bytes] = []
        self._small: bool | None = None

    def _slices(self) -> Iterator[bytes]:
        raw = self._raw
        if len(raw) > self._max:
            raise ApiError(413, f"decompressed body exceeds the limit of {self._max} bytes")
        for i in range(0, len(raw), _CHUNK):
            yield raw[i : i + _CHUNK]

    def _gunzip(self) -> Iterator[bytes]:
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        raw = self._raw
        total = 0
        try:
            for i in range(0, len(raw), _CHUNK):
                data = raw[i : i + _CHUNK]
                while data and not d.eof:
                    out = d.decompress(data, _CHUNK)
                    data = d.unconsumed_tail
                    total += len(out)
                    if total > self._max:
                        raise ApiError(
                            413, f"decompressed body exceeds the limit of {self._max} bytes"
                        )
                    if out:
                        yield out
                if d.eof:
                    return
        except zlib.error as exc:
            raise ApiError(400, f"invalid gzip body: {exc}") from None
        raise ApiError(400, "invalid gzip body: truncated stream")

    def small(self) -> bool:
        """Whether it decodes to at most INLINE_BYTES (found by decoding at most that much)."""
        if self._small is None:
            size = 0
            for chunk in self._gen:
                self._head.append(chunk)
                size += len(chunk)
                if size > INLINE_BYTES:
                    self._small = False
                    break
            else:
                self._small = True
        return self._small

    def chunks(self) -> Iterator[bytes]:
        """The decoded body, chunk by chunk (once)."""
        head, self._head = self._head, []
        yield from head
        yield from self._gen

    def scan(self) -> Iterator[bytes]:
        """The decoded body again, independently of `chunks` (decoded a second time): for a
        cheap pass that checks a limit before the costly one."""
        return self._gunzip() if self._gzip else self._slices()

    def read(self) -> bytes:
        """The whole decoded body (at most `max_decompressed` bytes)."""
        if not self._gzip and not self._head:
            if len(self._raw) > self._max:
                raise ApiError(413, f"decompressed body exceeds the limit of {self._max} bytes")
            return self._raw
        return b"".join(self.chunks())


def decode_body(body: bytes, encoding: str | None, max_decompressed: int) -> bytes:
    """Undo Content-Encoding (identity or gzip); 413 past `max_decompressed` (no zip bombs)."""
    return Body(body, encoding, max_decompressed).read()
