"""Exact line-protocol and InfluxQL quoting output, and the lossless name encoding."""

from __future__ import annotations

import pytest

from fleetmon_db.timeseries import Point, PointBatch
from fleetmon_db.timeseries.influx.influxql import ident, literal, tag_conditions
from fleetmon_db.timeseries.influx.lineprotocol import LineEncoder
from fleetmon_db.timeseries.influx.names import decode_name, encode_name


def test_line_escaping_is_exact() -> None:
    p = Point(
        "web 1,eu=x",
        "cpu load,x",
        1_700_000_000_123_456_789,
        {"a=b c": 'v"1,2=3 4', "empty": ""},
        {"f k": 1.5, "n": 3, "ok": True, "s": 'say "hi" \\ now', "nan": float("nan")},
    )
    body, written = LineEncoder().encode([p])
    assert written == 4
    assert body == (
        b'cpu\\ load\\,x,a\\=b\\ c=v"1\\,2\\=3\\ 4,empty=~b64~,host=web\\ 1\\,eu\\=x '
        b'f\\ k=1.5,n=3,ok=1.0,s="say \\"hi\\" \\\\ now" 1700000000123456789\n'
    )


def test_fast_and_slow_paths_agree() -> None:
    fields = {"a": 1.0, "b": 2, "c": -3.5e-7, "d": 1e300}
    fast = LineEncoder().encode([Point("h", "m", 1, {}, fields)])[0]
    mixed = LineEncoder().encode(
        [Point("h", "m", 1, {}, fields), Point("h", "m", 2, {}, {"s": "x"})]
    )[0]
    assert fast == b"m,host=h a=1.0,b=2,c=-3.5e-7,d=1e+300 1\n"
    assert mixed.splitlines()[0] == fast.strip()


@pytest.mark.parametrize(
    "name", ["plain", "", "new\nline", "back\\slash", "tab\t", "~b64~x", "ünï 🚀", "a,b=c d"]
)
def test_name_encoding_roundtrips_and_leaves_plain_names_alone(name: str) -> None:
    stored = encode_name(name)
    assert decode_name(stored) == name
    assert "\n" not in stored
    assert "\\" not in stored
    if name in ("plain", "ünï 🚀", "a,b=c d"):
        assert stored == name


def test_influxql_quoting() -> None:
    assert ident('we"ird\\') == '"we\\"ird\\\\"'
    assert literal("it's \\ \n") == "'it\\'s \\\\ \\n'"
    assert tag_conditions(["a'b"], {"k": "x\ny"}) == [
        "(\"host\" = 'a\\'b')",
        f"\"k\" = '{encode_name('x' + chr(10) + 'y')}'",
    ]


def test_field_template_path_is_exact() -> None:
    """Per-shape templates: '%' in names, ints, overflowing sums and empty points."""
    enc = LineEncoder()
    pts = [
        Point("h", "m", 1, {}, {"100%": 1.5, "n": 2**70}),
        Point("h", "m", 2, {}, {"100%": 1e308, "n": 1e308}),
        Point("h", "m", 3, {}, {}),
        Point("h", "m", 4, {}, {"100%": float("inf"), "n": 0.25}),
    ]
    body, written = enc.encode(pts)
    assert body == (
        b"m,host=h 100%=1.5,n=1180591620717411303424 1\n"
        b"m,host=h 100%=1e+308,n=1e+308 2\n"
        b"m,host=h n=0.25 4\n"
    )
    assert written == 5
    # Same shapes again, now all plain and finite (the batch-wide fast path).
    again, _ = enc.encode(pts[:1])
    assert again == body.splitlines(keepends=True)[0]


def test_point_batch_round_trips_and_chunks() -> None:
    pts = [
        Point(
            "h",
            "m",
            i,
            {"t": str(i % 3)},
            {"a": float(i), "b": i, "s": "x"} if i % 4 else {"a": 1.0},
        )
        for i in range(10)
    ]
    batch = PointBatch.of([*pts, Point("h", "empty", 99, {}, {})])
    assert batch.points() == pts  # the point without fields is left out
    chunks = list(batch.chunks(3))
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    assert [p for c in chunks for p in c.points()] == pts
    enc = LineEncoder()
    assert b"".join(enc.encode_batch(c)[0] for c in chunks) == enc.encode(pts)[0]
