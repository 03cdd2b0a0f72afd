"""What the agent really sends is what the server's wire schema and limits accept, on the
fast path."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest

from fleetmon_agent.config import load
from fleetmon_api.ingest import decode, wire
from fleetmon_api.ingest.fastpath import FastCompiler
from fleetmon_api.ingest.validate import Limits, Validator
from fleetmon_api.settings import Settings
from fleetmon_db import fieldtypes
from fleetmon_db.timeseries import NS
from tests.support.agent import agent_once_batch


@pytest.fixture(scope="module")
def agent_batch() -> dict[str, Any]:
    """One batch of every collector on this machine, from the real CLI (it sends nothing)."""
    return agent_once_batch()


def test_every_collector_contributes(agent_batch: dict[str, Any]) -> None:
    seen = {p["measurement"] for p in agent_batch["points"]}
    expected = {"cpu", "system", "mem", "swap", "disk", "net", "processes", "procstat"}
    assert expected <= seen, f"missing measurements: {expected - seen}"


def test_agent_batch_passes_both_wire_decoders(agent_batch: dict[str, Any]) -> None:
    raw = json.dumps(agent_batch).encode()
    strict = wire.BatchIn.model_validate_json(raw)
    assert strict.batch_id == agent_batch["batch_id"]
    assert len(strict.points) == len(agent_batch["points"])
    fast = wire.fast_decode(raw)
    assert fast is not None, "the agent's batches must take the fast path"
    assert len(fast.points) == len(agent_batch["points"])


def test_agent_batch_is_stored_through_the_fast_path(agent_batch: dict[str, Any]) -> None:
    """Every point survives decoding, and the compiler vouches for all of them."""
    raw = json.dumps(agent_batch).encode()
    settings = Settings()
    batch = decode.agent_batch(raw, settings.max_points)
    compiler = FastCompiler(Validator(Limits.from_settings(settings)))
    fast = wire.fast_decode(raw)
    assert batch.fast
    assert fast is not None
    compiled = compiler.compile("contract-host", fast.points, time.time_ns())
    assert compiled is not None, "a point of the agent's made the compiler defer"
    assert len(compiled) == len(agent_batch["points"])


def test_every_agent_point_passes_the_server_limits(agent_batch: dict[str, Any]) -> None:
    validator = Validator(Limits.from_settings(Settings()))
    now_ns = time.time_ns()
    for i, p in enumerate(agent_batch["points"]):
        t = validator.time_ns(p["time"], now_ns, i)
        point = validator.point(i, "contract-host", p["measurement"], t, p["tags"], p["fields"])
        assert point.host == "contract-host"
        assert abs(t - now_ns) < 120 * NS


def test_agent_request_sizes_fit_the_server_limits() -> None:
    """A replay request the agent may build at its defaults is within the server's defaults."""
    agent = load(None, env={"FLEETMON_SERVER_URL": "http://127.0.0.1:1"})
    server = Settings()
    assert agent.batch.max_request_points <= server.max_points
    assert agent.batch.max_points <= server.max_points
    # A realistic point serialises to ~150 bytes; the gzip'd body must stay under the cap and
    # the decompressed one under the decompression cap.
    point = {
        "measurement": "procstat",
        "time": 1795447498.25,
        "tags": {"process_name": "postgres", "pid": "12345", "user": "postgres"},
        "fields": {"cpu_usage": 12.5, "memory_rss": 123456789, "cmdline": "x" * 200},
    }
    body = json.dumps(
        {"batch_id": "b", "points": [point] * agent.batch.max_request_points}
    ).encode()
    assert len(body) <= server.max_decompressed_bytes
    assert len(gzip.compress(body)) <= server.max_body_bytes


def test_default_alert_rules_watch_series_the_agent_emits(agent_batch: dict[str, Any]) -> None:
    """A default rule on a field the agent never sends would never fire: check each one."""
    from fleetmon_alerts.defaults import DEFAULT_RULES

    emitted = [
        (p["measurement"], field, p["tags"]) for p in agent_batch["points"] for field in p["fields"]
    ]
    for rule in DEFAULT_RULES:
        if not rule.get("metric"):
            continue  # host down watches heartbeats, not a series
        measurement, field = rule["metric"].split(".", 1)
        wanted = rule.get("tags", {})
        assert any(
            m == measurement and f == field and all(t.get(k) == v for k, v in wanted.items())
            for m, f, t in emitted
        ), f"default rule {rule['name']!r} watches {rule['metric']} {wanted}: never emitted"


def test_the_agents_drop_reasons_and_state_pass_both_decoders() -> None:
    """Every drop reason the agent defines, its counters and a large clock offset, as the
    sender encodes them (timestamps corrected), are accepted by both decoders."""
    from fleetmon_agent.drops import REASONS, DropLedger
    from fleetmon_agent.sender import encode
    from fleetmon_agent.spool import Batch

    assert len(REASONS) <= wire.MAX_DROP_REASONS
    ledger = DropLedger()
    for i, reason in enumerate(REASONS):
        ledger.add(reason, i + 1, files=1)
    offset = 8 * 86400.0 + 0.25  # an agent 8 days behind
    points = [{"measurement": "cpu", "time": time.time() - offset, "tags": {}, "fields": {"x": 1}}]
    raw = gzip.decompress(encode(Batch("b-1", points), ledger, offset))
    strict = wire.BatchIn.model_validate_json(raw)
    assert strict.agent is not None
    assert strict.agent.dropped == {r: i + 1 for i, r in enumerate(REASONS)}
    assert strict.agent.dropped_points == sum(range(1, len(REASONS) + 1))
    assert strict.agent.quarantined_files == len(REASONS)
    assert strict.agent.clock_offset_s == offset
    assert abs(strict.points[0].time - time.time()) < 60
    fast = wire.fast_decode(raw)
    assert fast is not None
    assert fast.agent is not None
    assert fast.agent.dropped == strict.agent.dropped


def test_agent_fields_have_exactly_their_declared_types(agent_batch: dict[str, Any]) -> None:
    """The field-type contract holds the agent's fields to their declarations: what the
    agent sends matches them as sent (no integer that the server would turn into a float,
    no field it does not declare, which would be learnt from its first value)."""
    raw = json.dumps(agent_batch).encode()
    fast = wire.fast_decode(raw)
    assert fast is not None
    off = [
        (p.measurement, name, type(value).__name__, getattr(declared, "__name__", None))
        for p in fast.points
        for name, value in p.fields.items()
        if type(value) is not (declared := fieldtypes.declared(p.measurement, name))
    ]
    assert off == [], f"(measurement, field, sent, declared): {off}"
