"""Agent batch decoding: the fast path accepts only what the reference (wire.BatchIn and the
Validator) accepts and builds the same; decode.agent_batch answers exactly as the reference,
reading each body once per path."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fleetmon_api.errors import ApiError
from fleetmon_api.ingest import decode, wire
from fleetmon_api.ingest.fastpath import FastCompiler
from fleetmon_api.ingest.validate import Limits, Validator
from fleetmon_db.timeseries import NS, PointBatch

NOW_NS = 1_000 * NS
LIMITS = Limits(
    max_points=5_000,
    max_fields=8,
    max_tags=4,
    max_key=16,
    max_tag_value=32,
    max_past_ns=2_000 * NS,
    max_future_ns=60 * NS,
)


def fast(body: bytes, compiler: FastCompiler) -> PointBatch | None:
    """What the fast path makes of a body (None: it defers)."""
    batch = wire.fast_decode(body)
    if batch is None:
        return None
    return compiler.compile("web-1", batch.points, NOW_NS)


def slow(body: bytes) -> PointBatch | None:
    """What the reference makes of it (None: rejected)."""
    try:
        batch = wire.BatchIn.model_validate_json(body)
        points = Validator(LIMITS).points("web-1", batch.points, NOW_NS)
    except (ValidationError, ApiError):
        return None
    return PointBatch.of(points)


def decoded(body: bytes, compiler: FastCompiler) -> PointBatch | tuple[int, object]:
    """What the ingest endpoint makes of a body: the points, or (status, detail)."""
    try:
        return decode.agent_batch(body, LIMITS.max_points).points("web-1", NOW_NS, compiler)
    except ApiError as exc:
        return exc.status, exc.detail


def reference(body: bytes) -> PointBatch | tuple[int, object]:
    """The same from the reference model and the Validator alone."""
    try:
        batch = wire.BatchIn.model_validate_json(body)
    except ValidationError as exc:
        return 422, decode._first_error(exc)
    try:
        return PointBatch.of(Validator(LIMITS).points("web-1", batch.points, NOW_NS))
    except ApiError as exc:
        return exc.status, exc.detail


def same(got: PointBatch | tuple[int, object], want: PointBatch | tuple[int, object]) -> None:
    """Equal answers: the same points with the same value types, or the same error."""
    if isinstance(want, PointBatch):
        assert isinstance(got, PointBatch), got
        assert got.points() == want.points()
        assert [type(v) for v in got.flat] == [type(v) for v in want.flat]
    else:
        assert got == want


def agree(body: bytes, compiler: FastCompiler) -> PointBatch | None:
    """Assert the fast path accepts nothing the slow path rejects, and builds the same."""
    got = fast(body, compiler)
    want = slow(body)
    if got is not None:
        assert want is not None, body
        assert got.points() == want.points()
        assert [type(v) for v in got.flat] == [type(v) for v in want.flat]
    return got


GOOD = {
    "batch_id": "b-1",
    "agent": {"version": "1.0", "dropped_points": 0},
    "points": [
        {"measurement": "cpu", "time": 1.5, "tags": {"cpu": "cpu0"}, "fields": {"u": 1.5}},
        {"measurement": "mem", "time": 2, "fields": {"i": 3, "b": True, "s": "x"}},
    ],
}


def _variants() -> list[bytes]:
    def with_point(**kw: object) -> bytes:
        p: dict[str, object] = {"measurement": "cpu", "time": 1.0, "fields": {"u": 1.0}}
        p.update(kw)
        return orjson.dumps({"batch_id": "b", "points": [p]})

    raw = [
        orjson.dumps(GOOD),
        orjson.dumps({"batch_id": "b", "points": []}),
        orjson.dumps({"batch_id": "b", "agent": None, "points": []}),
        orjson.dumps({"batch_id": "b", "points": [], "extra": 1}),
        orjson.dumps({"batch_id": "", "points": []}),
        orjson.dumps({"batch_id": "a b", "points": []}),
        orjson.dumps({"batch_id": "b\n", "points": []}),
        orjson.dumps({"batch_id": "x" * 65, "points": []}),
        orjson.dumps({"batch_id": 5, "points": []}),
        orjson.dumps({"batch_id": "b", "agent": {"version": "v" * 65}, "points": []}),
        orjson.dumps(
            {"batch_id": "b", "agent": {"version": "v", "dropped_points": -1}, "points": []}
        ),
        orjson.dumps(
            {"batch_id": "b", "agent": {"version": "v", "dropped_points": True}, "points": []}
        ),
        orjson.dumps({"batch_id": "b", "agent": {"version": "v", "x": 1}, "points": []}),
        orjson.dumps({"batch_id": "b", "points": {}}),
        orjson.dumps([1, 2]),
        b"{not json",
        b'{"batch_id": "b", "points": [{"measurement": "m", "time": 1e999, "fields": {}}]}',
        b'{"batch_id": "b", "points": [{"measurement": "m", "time": 1,'
        b' "fields": {"x": 18446744073709551616}}]}',
        b'{"batch_id": "b", "points": [{"measurement": "m", "time": 1,'
        b' "fields": {"x": 9223372036854775808}}]}',
        b'{"batch_id": "b", "points": [{"measurement": "m", "time": 1,'
        b' "fields": {"x": -9223372036854775808}}]}',
        b'{"batch_id": "b", "points": [{"measurement": "m", "time": 99999999999999999999999,'
        b' "fields": {"x": 1}}]}',
        # Repeated keys (the last one counts), a lone surrogate, a byte-order mark, NaN.
        b'{"batch_id": "b", "points": [{"measurement": "m", "measurement": "n", "time": 1,'
        b' "fields": {"x": 1, "x": "s"}}]}',
        b'{"batch_id": "b", "points": [{"measurement": "\\ud800", "time": 1, "fields": {"x": 1}}]}',
        b'\xef\xbb\xbf{"batch_id": "b", "points": []}',
        b'{"batch_id": "b", "points": [{"measurement": "m", "time": 1, "fields": {"x": NaN}}]}',
        b'{"batch_id": "b", "points": [{"measurement": "m", "time": 1, "fields": {"x": 1e400}}]}',
        b'{"batch_id": "b", "points": [{"measurement": "m", "time": 1e300, "fields": {"x": 1}}]}',
        with_point(),
        with_point(time=True),
        with_point(time="1"),
        with_point(time=None),
        with_point(measurement=1),
        with_point(tags=None),
        with_point(tags={"a": 1}),
        with_point(tags={"a": "b"}),
        with_point(fields=None),
        with_point(fields={}),
        with_point(fields={"x": None}),
        with_point(fields={"x": [1]}),
        with_point(fields={"x": "s" * 4096}),
        with_point(fields={"x": "s" * 4097}),
        with_point(fields={"x": False, "y": -(2**63), "z": 2**63 - 1}),
        with_point(extra=1),
        orjson.dumps({"batch_id": "b", "points": [1]}),
        orjson.dumps({"batch_id": "b", "points": [{"time": 1, "fields": {"x": 1}}]}),
    ]
    return raw


@pytest.mark.parametrize("body", _variants())
def test_fast_path_agrees_with_adapter_and_validator(body: bytes) -> None:
    agree(body, FastCompiler(Validator(LIMITS)))


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**64, 1e400, "s" * 4097, None])
def test_a_known_shape_does_not_vouch_for_its_values(value: object) -> None:
    compiler = FastCompiler(Validator(LIMITS))
    good = {"batch_id": "b", "points": [{"measurement": "m", "time": 1, "fields": {"x": 1}}]}
    assert agree(json.dumps(good).encode(), compiler) is not None
    bad = json.dumps(good).replace('"x": 1', f'"x": {json.dumps(value)}')
    if value == 1e400:
        bad = bad.replace("Infinity", "1e400")
    assert agree(bad.encode(), compiler) is None


def test_agent_batches_take_the_fast_path() -> None:
    compiler = FastCompiler(Validator(LIMITS))
    body = orjson.dumps(GOOD)
    assert agree(body, compiler) is not None
    assert agree(body, compiler) is not None  # the shapes now come from the cache


def test_envelope_agrees_with_the_reference() -> None:
    fast_bodies = 0
    for body in _variants():
        batch = wire.fast_decode(body)
        if batch is not None:
            fast_bodies += 1
            strict = wire.BatchIn.model_validate_json(body)
            assert batch.batch_id == strict.batch_id
            assert (batch.agent.version if batch.agent else None) == (
                strict.agent.version if strict.agent else None
            )
    assert fast_bodies > 3


@pytest.mark.parametrize("body", _variants())
def test_decode_answers_as_the_reference(body: bytes) -> None:
    same(decoded(body, FastCompiler(Validator(LIMITS))), reference(body))


def _count_reads(body: bytes) -> tuple[int, int]:
    """(msgspec decodes, pydantic reads) of one body through decode."""
    with (
        mock.patch.object(
            decode, "fast_decode", side_effect=wire.fast_decode, autospec=True
        ) as fast_reads,
        mock.patch.object(
            wire.BatchIn, "model_validate_json", side_effect=wire.BatchIn.model_validate_json
        ) as strict_reads,
    ):
        decoded(body, FastCompiler(Validator(LIMITS)))
    return fast_reads.call_count, strict_reads.call_count


@pytest.mark.parametrize(
    ("points", "reads"),
    [
        # fast: msgspec, then the compiler
        ([{"measurement": "cpu", "time": 1, "fields": {"u": 1.0}}], (1, 0)),
        # deferred (a name the rules refuse; a time outside the window): the same structs
        ([{"measurement": "a b", "time": 1, "fields": {"u": 1.0}}], (1, 0)),
        ([{"measurement": "cpu", "time": 9_999, "fields": {"u": 1.0}}], (1, 0)),
        # refused by msgspec: the reference decides, once
        ([{"measurement": "cpu", "time": 1, "fields": {"u": None}}], (1, 1)),
        ([{"measurement": "cpu", "time": 1, "fields": {"u": 2**63}}], (1, 1)),
    ],
)
def test_each_path_reads_the_body_once(
    points: list[dict[str, Any]], reads: tuple[int, int]
) -> None:
    assert _count_reads(json.dumps({"batch_id": "b", "points": points}).encode()) == reads


_good_names = st.sampled_from(["cpu", "usage_user", "host", "ok.1", "a-b:c/d", "_x"])
_names = st.one_of(_good_names, st.sampled_from(["a b", "", "x" * 17, "é", "9x", "a\nb"]))
_good_tag_values = st.sampled_from(["cpu0", "", "web 1", "ünï", "x" * 32])
_tag_values = st.one_of(
    _good_tag_values, st.sampled_from(["x" * 33, "new\nline", "tab\t"]), st.integers(0, 3)
)
_good_values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.text(max_size=5),
)
_values = st.one_of(
    _good_values,
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from(["s" * 4097, None, [1], 2**63, 9.3e18, -9.3e18, -(2**63) - 1]),
)
_good_times = st.one_of(
    st.floats(min_value=-900, max_value=1_050, allow_nan=False), st.integers(-900, 1_050)
)
_times = st.one_of(
    st.floats(min_value=-5_000, max_value=5_000, allow_nan=False),
    st.integers(-5_000, 5_000),
    st.sampled_from([True, "1", None, 1e300]),
)
_good_point = st.fixed_dictionaries(
    {
        "measurement": _good_names,
        "time": _good_times,
        "fields": st.dictionaries(_good_names, _good_values, min_size=1, max_size=6),
    },
    optional={"tags": st.dictionaries(_good_names, _good_tag_values, max_size=4)},
)
_any_point = st.fixed_dictionaries(
    {
        "measurement": st.one_of(_names, st.integers(0, 2)),
        "time": _times,
        "fields": st.dictionaries(_names, _values, max_size=9),
    },
    optional={"tags": st.dictionaries(_names, _tag_values, max_size=5), "extra": st.just(1)},
)
# A valid point but for one number just outside what the adapter accepts.
_edge_point = st.builds(
    lambda p, v: {**p, "fields": {**p["fields"], "edge": v}},
    _good_point,
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 2**64 + 1, -(2**64)]),
)
# Mostly valid points, so that whole batches pass often; now and then anything at all.
_point = st.one_of(_good_point, _good_point, _good_point, _edge_point, _any_point)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_point, max_size=6), st.booleans())
def test_fast_path_never_accepts_what_the_slow_path_rejects(
    points: list[dict[str, Any]], warm: bool
) -> None:
    compiler = FastCompiler(Validator(LIMITS))
    body = json.dumps({"batch_id": "b", "points": points}).encode()  # any int size
    if warm:
        # Shapes learnt from an earlier batch must not change the answer, nor can their
        # first values vouch for later ones: learn them from the same points with 1s.
        ones = [{**p, "fields": dict.fromkeys(p["fields"], 1)} for p in points]
        agree(json.dumps({"batch_id": "b", "points": ones}).encode(), compiler)
        agree(body, compiler)
    agree(body, compiler)
    # And the endpoint's decoding answers exactly as the reference, warm cache or not.
    same(decoded(body, compiler), reference(body))
