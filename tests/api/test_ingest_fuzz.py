"""Hostile bodies through the real app and a real InfluxDB (issue 15): whatever a key
sends to the line-protocol and JSON ingest paths, the answer is never a 5xx, it comes in
bounded time, and nothing is stored under any host but the sender's."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.api.harness import ApiServer, now_s, running_api
from tests.support.stores import store_spec

# What a client may be told, and how long a small hostile request may take (a loaded
# 2-core machine; the limits make a request's work proportional to its bounded size).
ANSWERS = {202, 204, 400, 413, 415, 422}
MAX_SECONDS = 5.0
SENDERS = ("fuzz-lp", "fuzz-json")
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def fuzz_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ApiServer, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with (
        store_spec("influxdb", request, tmp, url_only=True) as spec,
        running_api(
            f"sqlite:///{tmp / 'meta.db'}",
            spec.url,
            ingest_rate_limit="1000000/minute",
            max_body_bytes=64_000,
            max_decompressed_bytes=256_000,
            max_points=500,
        ) as api,
    ):
        api.enroll("victim")
        keys = {name: api.enroll(name) for name in SENDERS}
        for key in keys.values():
            # One good point each first, claiming the victim's name: the fuzzers' random
            # names may use up the senders' cardinality budgets later.
            body = {"batch_id": str(uuid.uuid4()), "points": [
                {"measurement": "cpu", "time": now_s(), "tags": {"host": "victim"},
                 "fields": {"usage_idle": 50.0}},
            ]}  # fmt: skip
            r = api.client.post(
                "/api/v1/metrics/collect", content=orjson.dumps(body),
                headers={"Authorization": f"Bearer {key}"},
            )  # fmt: skip
            assert r.status_code == 202, r.text
        yield api, keys


def _post(api: ApiServer, path: str, key: str, body: bytes, **headers: str) -> int:
    started = time.monotonic()
    r = api.client.post(path, content=body, headers={"Authorization": f"Bearer {key}", **headers})
    took = time.monotonic() - started
    assert r.status_code in ANSWERS, (r.status_code, r.text, body[:300])
    assert took < MAX_SECONDS, (took, body[:300])
    if r.status_code >= 400:  # errors are JSON `{"detail": ...}`
        assert "detail" in r.json(), r.text
    event(f"answered {r.status_code}")  # --hypothesis-show-statistics: what was exercised
    return r.status_code


# ---- line protocol ------------------------------------------------------------------------

# Names mixing the characters line protocol escapes, quotes and separators.
_SPECIAL = st.sampled_from([",", " ", "=", "\\", '"', "\n", "\t", "#", "é", "\x00", "\u2028"])
_name = st.one_of(
    st.text(st.one_of(st.sampled_from("abcxyz_.-:/0"), _SPECIAL), min_size=0, max_size=12),
    st.sampled_from(["host", "time", "_field", "_measurement"]),
)
_field_value = st.one_of(
    st.integers(-(2**70), 2**70).map(lambda i: f"{i}i"),
    st.integers(0, 2**70).map(lambda i: f"{i}u"),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["t", "T", "true", "FALSE", "f", "1e400", "-0", ".5", "1.", "nan", "inf"]),
    st.text(max_size=20).map(lambda s: '"' + s.replace('"', '\\"') + '"'),
    st.text(max_size=10),
)
_tags = st.lists(
    st.tuples(st.one_of(_name, st.just("host")), st.one_of(_name, st.sampled_from(["victim"]))),
    max_size=4,
)
_timestamp = st.one_of(
    st.none(),
    st.just(str(int(now_s()))),
    st.integers(-(2**70), 2**70).map(str),
    st.text(max_size=6),
)


@st.composite
def _line(draw: st.DrawFn) -> str:
    measurement = draw(st.one_of(st.sampled_from(["cpu", "mem", "disk", "app"]), _name))
    tags = "".join(f",{k}={v}" for k, v in draw(_tags))
    fields = ",".join(
        f"{k}={v}"
        for k, v in draw(
            st.lists(
                st.tuples(st.one_of(st.sampled_from(["usage_idle", "v"]), _name), _field_value),
                max_size=4,
            )
        )
    )
    ts = draw(_timestamp)
    return f"{measurement}{tags} {fields}" + (f" {ts}" if ts is not None else "")


_lp_body = st.one_of(
    st.lists(_line(), min_size=1, max_size=20).map(lambda lines: "\n".join(lines).encode()),
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
)


@FUZZ
@given(
    body=_lp_body,
    precision=st.sampled_from(["s", "ns", "ms", "h", "x"]),
    gzipped=st.booleans(),
)
def test_line_protocol_fuzz(
    fuzz_api: tuple[ApiServer, dict[str, str]], body: bytes, precision: str, gzipped: bool
) -> None:
    api, keys = fuzz_api
    headers = {"Content-Encoding": "gzip"} if gzipped else {}
    data = gzip.compress(body) if gzipped else body
    _post(api, f"/write?precision={precision}", keys["fuzz-lp"], data, **headers)


# ---- JSON ---------------------------------------------------------------------------------

_json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    )


_json_any = st.recursive(_json_scalar, _containers, max_leaves=20)
_point = st.fixed_dictionaries(
    {
        "measurement": st.one_of(st.sampled_from(["cpu", "mem", "app"]), _name, _json_scalar),
        "time": st.one_of(
            st.just(now_s()),
            st.floats(allow_nan=False),
            st.integers(-(2**70), 2**70),
            _json_scalar,
        ),
        "fields": st.one_of(
            st.dictionaries(
                st.one_of(st.sampled_from(["usage_idle", "v"]), _name), _json_scalar, max_size=4
            ),
            _json_any,
        ),
    },
    optional={
        "tags": st.one_of(
            st.dictionaries(
                st.one_of(_name, st.just("host")),
                st.one_of(_name, st.just("victim")),
                max_size=4,
            ),
            _json_any,
        ),
        "extra": _json_any,
    },
)
_batch = st.fixed_dictionaries(
    {
        "batch_id": st.one_of(st.uuids().map(str), _json_scalar),
        "points": st.one_of(st.lists(_point, max_size=10), _json_any),
    },
    optional={"agent": _json_any},
)
# Mostly well-formed batches too, so that the accepting paths (field types, cardinality,
# the store) see hostile values and not only the decoder.
_good_name = st.one_of(
    st.sampled_from(["cpu", "mem", "app", "usage_idle", "v"]),
    st.from_regex(r"[a-z_][a-z0-9_.:/-]{0,8}", fullmatch=True),
)
_good_point = st.fixed_dictionaries(
    {
        "measurement": _good_name,
        "time": st.floats(now_s() - 60, now_s() + 60),
        "tags": st.dictionaries(
            st.one_of(_good_name, st.just("host")),
            st.one_of(st.text(max_size=10), st.just("victim")),
            max_size=3,
        ),
        "fields": st.dictionaries(
            _good_name,
            st.one_of(
                st.booleans(),
                st.integers(-(2**63), 2**63 - 1),
                st.floats(allow_nan=False, allow_infinity=False),
                st.text(max_size=10),
            ),
            min_size=1,
            max_size=4,
        ),
    }
)
_good_batch = st.fixed_dictionaries(
    {"batch_id": st.uuids().map(str), "points": st.lists(_good_point, min_size=1, max_size=10)}
)


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # the standard library's: integers beyond 64 bits too


_json_body = st.one_of(
    _good_batch.map(_dumps),
    _batch.map(_dumps),
    _json_any.map(_dumps),
    st.binary(max_size=200),
)


@FUZZ
@given(body=_json_body, gzipped=st.booleans())
def test_json_fuzz(fuzz_api: tuple[ApiServer, dict[str, str]], body: bytes, gzipped: bool) -> None:
    api, keys = fuzz_api
    headers = {"Content-Type": "application/json"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    data = gzip.compress(body) if gzipped else body
    _post(api, "/api/v1/metrics/collect", keys["fuzz-json"], data, **headers)


def test_nothing_stored_outside_the_senders(fuzz_api: tuple[ApiServer, dict[str, str]]) -> None:
    api, keys = fuzz_api
    # Whatever `host` tags the bodies carried, the store has the senders' names only, and
    # every sender's points (its first good one at least) under its own name.
    hosts: list[Any] = api.state.store.hosts()
    assert set(hosts) == set(keys), hosts
    assert api.state.store.series("victim") == []
