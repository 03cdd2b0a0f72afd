"""The fast batch check accepts only what the strict pydantic adapter accepts, identically."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from fleetmon_api.ingest.fastpath import parse_batch
from fleetmon_api.ingest.models import BATCH_ADAPTER

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
def test_fast_check_agrees_with_the_adapter(body: bytes) -> None:
    fast = parse_batch(body)
    try:
        strict = BATCH_ADAPTER.validate_json(body)
    except ValidationError:
        assert fast is None  # rejections always go through the adapter (its message)
        return
    if fast is not None:
        assert fast == strict
        assert [[type(v) for v in p["fields"].values()] for p in fast["points"]] == [
            [type(v) for v in p["fields"].values()] for p in strict["points"]
        ]
        assert [type(p["time"]) for p in fast["points"]] == [
            type(p["time"]) for p in strict["points"]
        ]


def test_agent_batches_take_the_fast_path() -> None:
    assert parse_batch(orjson.dumps(GOOD)) == BATCH_ADAPTER.validate_json(orjson.dumps(GOOD))
