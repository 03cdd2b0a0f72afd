"""Every ingest limit answers with its status code and a message that says what is wrong."""

from __future__ import annotations

import gzip
import uuid
from typing import Any

import orjson
import pytest

from tests.api.harness import ApiServer, batch, now_s

COLLECT = "/api/v1/metrics/collect"


@pytest.fixture(scope="module")
def key(sqlite_api: ApiServer) -> str:
    return sqlite_api.enroll("limits-host")


def _post(api: ApiServer, key: str, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return api.client.post(
        COLLECT,
        content=data,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", **headers},
    )


def _one(**point: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "measurement": "cpu", "time": now_s(), "tags": {"cpu": "cpu0"}, "fields": {"v": 1.0},
    }  # fmt: skip
    base.update(point)
    return {"batch_id": str(uuid.uuid4()), "points": [batch(1)["points"][0], base]}


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ({"measurement": "bad name"}, "points[1]: measurement 'bad name' must start"),
        ({"measurement": "x" * 200}, "points[1]: measurement"),
        ({"tags": {"bad key": "v"}}, "points[1]: tag key 'bad key'"),
        ({"tags": {"k": "line\nbreak"}}, "points[1]: tag 'k' value contains a control character"),
        ({"tags": {"k": "v" * 300}}, "points[1]: tag 'k' value longer than 256"),
        ({"tags": {f"t{i}": "v" for i in range(6)}}, "points[1]: 6 tags exceed the limit of 5"),
        ({"fields": {}}, "points[1]: a point needs at least one field"),
        ({"fields": {f"f{i}": 1 for i in range(11)}}, "points[1]: 11 fields exceed the limit"),
        ({"fields": {"s": "x" * 5000}}, "points[1].fields.s: String should have at most 4096"),
        ({"fields": {"x": [1]}}, "points[1].fields.x: Input should be a number, a boolean or"),
        ({"time": 1000.0}, "older than the 85800s the raw tier can still keep"),
        ({"time": now_s() + 3600}, "is more than 600s ahead of the server's clock"),
    ],
    ids=[
        "measurement-charset", "measurement-length", "tag-key", "tag-control", "tag-length",
        "tag-count", "no-fields", "field-count", "string-length", "value-type", "past", "future",
    ],
)  # fmt: skip
def test_bad_point_rejects_whole_batch_naming_it(
    sqlite_api: ApiServer, key: str, point: dict[str, Any], message: str
) -> None:
    r = _post(sqlite_api, key, _one(**point))
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"]
    assert r.json()["detail"].startswith("points[1]")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"batch_id": "x", "points": [], "extra": 1}, "extra: Extra inputs are not permitted"),
        ({"points": []}, "batch_id: Field required"),
        (
            {"batch_id": "x", "points": [{"measurement": "m", "time": "now", "fields": {"a": 1}}]},
            "points[0].time",
        ),
        (
            {"batch_id": "x", "points": [{"measurement": "m", "time": 1, "fields": {"a": None}}]},
            "points[0].fields.a: Input should be a number, a boolean or a string",
        ),
        (
            {"batch_id": "x", "points": [{"measurement": 5, "time": 1, "fields": {"a": 1}}]},
            "points[0].measurement: Input should be a valid string",
        ),
    ],
    ids=["unknown-field", "missing-batch-id", "time-type", "value-type", "strict-no-coercion"],
)
def test_schema_errors_are_422_with_location(
    sqlite_api: ApiServer, key: str, body: dict[str, Any], message: str
) -> None:
    r = _post(sqlite_api, key, body)
    assert r.status_code == 422
    assert message in r.json()["detail"]


def test_not_json_is_422(sqlite_api: ApiServer, key: str) -> None:
    r = _post(sqlite_api, key, b"{not json")
    assert r.status_code == 422
    assert "Invalid JSON" in r.json()["detail"]


def test_too_many_points_is_413(sqlite_api: ApiServer, key: str) -> None:
    r = _post(sqlite_api, key, batch(101))
    assert r.status_code == 413
    assert r.json()["detail"] == "101 points exceed the limit of 100 per batch"


def test_body_too_large_is_413(sqlite_api: ApiServer, key: str) -> None:
    r = _post(sqlite_api, key, b" " * 200_001)
    assert r.status_code == 413
    assert r.json()["detail"] == "request body of 200001 bytes exceeds the limit of 200000"


def test_gzip_body_is_accepted(sqlite_api: ApiServer, key: str) -> None:
    r = _post(
        sqlite_api, key, gzip.compress(orjson.dumps(batch(50))), **{"Content-Encoding": "gzip"}
    )
    assert r.status_code == 202
    assert r.json()["points"] == 50


def test_gzip_bomb_is_413(sqlite_api: ApiServer, key: str) -> None:
    bomb = gzip.compress(b"[" + b" " * 10_000_000 + b"]")
    assert len(bomb) < 200_000
    r = _post(sqlite_api, key, bomb, **{"Content-Encoding": "gzip"})
    assert r.status_code == 413
    assert r.json()["detail"] == "decompressed body exceeds the limit of 500000 bytes"


def test_broken_gzip_and_unknown_encoding(sqlite_api: ApiServer, key: str) -> None:
    r = _post(sqlite_api, key, b"\x1f\x8bnot gzip", **{"Content-Encoding": "gzip"})
    assert r.status_code == 400
    assert r.json()["detail"].startswith("invalid gzip body")
    truncated = gzip.compress(orjson.dumps(batch(5)))[:-12]
    r = _post(sqlite_api, key, truncated, **{"Content-Encoding": "gzip"})
    assert r.status_code == 400
    r = _post(sqlite_api, key, orjson.dumps(batch(1)), **{"Content-Encoding": "br"})
    assert r.status_code == 415
    assert "unsupported Content-Encoding 'br'" in r.json()["detail"]


def test_errors_are_json_everywhere(sqlite_api: ApiServer) -> None:
    r = sqlite_api.client.get("/api/v1/nope")
    assert (r.status_code, r.json()) == (404, {"detail": "Not Found"})
    r = sqlite_api.client.put("/api/v1/metrics/collect")
    assert (r.status_code, r.json()) == (405, {"detail": "Method Not Allowed"})


def test_non_finite_numbers_are_422(sqlite_api: ApiServer, key: str) -> None:
    body = orjson.dumps(batch(1)).replace(b'"usage_user":0.0', b'"usage_user":NaN')
    assert b"NaN" in body
    r = _post(sqlite_api, key, body)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("points[0].fields.usage_user")
