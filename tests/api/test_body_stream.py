"""Reading a body in chunks gives what reading it whole gives, wherever the chunks split it."""

from __future__ import annotations

import gzip
import itertools
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetmon_api.errors import ApiError
from fleetmon_api.ingest import lineproto
from fleetmon_api.ingest.body import INLINE_BYTES, Body

# Line-protocol-ish bytes: the characters that decide where lines start and end.
_PIECES = [b"\n", b"\r", b" ", b"\t", b"\x0b", b"\x0c", b"#", b"m", b"f=1", b"\\"]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=200).map(b"".join)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, deadline=None)
@given(_TEXT, st.lists(st.integers(min_value=0), max_size=20))
def test_counting_and_splitting_agree_with_whole_text(data: bytes, cuts: list[int]) -> None:
    chunks = _split(data, cuts)
    whole = [
        (n, line.strip())
        for n, line in enumerate(data.split(b"\n"), start=1)
        if line.strip() and not line.strip().startswith(b"#")
    ]
    assert list(lineproto.data_lines(chunks)) == whole
    assert lineproto.count_data_lines(chunks, 10**9) == len(whole)


def test_counting_stops_above_the_limit_without_reading_the_rest() -> None:
    read = []

    def chunks() -> object:
        for i in range(1000):
            read.append(i)
            yield b"m f=1\n" * 100

    assert lineproto.count_data_lines(chunks(), 250) == 300  # type: ignore[arg-type]
    assert read == [0, 1, 2]


@pytest.mark.parametrize("size", [0, 10, INLINE_BYTES, INLINE_BYTES + 1, 5 * INLINE_BYTES + 3])
def test_gzip_body_reads_back_in_bounded_chunks(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    body = Body(gzip.compress(data), "gzip", 10 * INLINE_BYTES)
    assert body.small() is (size <= INLINE_BYTES)
    assert b"".join(body.scan()) == data
    chunks = list(body.chunks())
    assert b"".join(chunks) == data
    assert all(len(c) <= INLINE_BYTES for c in chunks)


def test_gzip_limits_and_errors() -> None:
    bomb = gzip.compress(b"\0" * (4 * INLINE_BYTES))
    with pytest.raises(ApiError) as exc:
        Body(bomb, "gzip", 3 * INLINE_BYTES).read()
    assert exc.value.status == 413
    with pytest.raises(ApiError) as exc:
        Body(gzip.compress(b"abc" * 1000)[:-12], "gzip", INLINE_BYTES).read()
    assert (exc.value.status, exc.value.detail) == (400, "invalid gzip body: truncated stream")
    with pytest.raises(ApiError) as exc:
        Body(b"\x1f\x8b\x08\x00garbage-garbage", "gzip", INLINE_BYTES).read()
    assert exc.value.status == 400
    with pytest.raises(ApiError) as exc:
        Body(b"x", "br", INLINE_BYTES)
    assert exc.value.status == 415
    raw = zlib.compress(b"x")
    with pytest.raises(ApiError) as exc:
        Body(raw, "gzip", INLINE_BYTES).read()  # zlib, not gzip framing
    assert exc.value.status == 400
