"""Read a request body within a byte cap, and gunzip it within a decompressed-size cap."""

from __future__ import annotations

import zlib

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


def decode_body(body: bytes, encoding: str | None, max_decompressed: int) -> bytes:
    """Undo Content-Encoding (identity or gzip); 413 past `max_decompressed` (no zip bombs)."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc not in ("gzip", "x-gzip"):
        raise ApiError(415, f"unsupported Content-Encoding {enc!r}; use gzip or identity")
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, max_decompressed + 1)
    except zlib.error as exc:
        raise ApiError(400, f"invalid gzip body: {exc}") from None
    if len(out) > max_decompressed or d.unconsumed_tail:
        raise ApiError(413, f"decompressed body exceeds the limit of {max_decompressed} bytes")
    if not d.eof:
        raise ApiError(400, "invalid gzip body: truncated stream")
    return out
