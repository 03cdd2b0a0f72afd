"""What was not stored is visible per host (hosts API) and fleet-wide (/metrics): the agent's
drops and quarantines, the server's refusals; and each host's clock offset."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from fleetmon_api.losses import LossBook
from fleetmon_api.telemetry import Telemetry
from fleetmon_db.models import Host, HostDrop
from tests.api.harness import ApiServer, batch, now_s
from tests.support.clock import FakeClock


def _host(api: ApiServer, name: str) -> dict[str, Any]:
    r = api.client.get(f"/api/v1/hosts/{name}", headers=api.auth("viewer"))
    assert r.status_code == 200, r.text
    host: dict[str, Any] = r.json()
    return host


def _drops(api: ApiServer, name: str) -> dict[tuple[str, str], int]:
    return {(d["kind"], d["reason"]): d["count"] for d in _host(api, name)["drops"]}


def _metric(api: ApiServer, kind: str, reason: str) -> float:
    value = api.state.telemetry.registry.get_sample_value(
        "fleetmon_points_dropped_total", {"kind": kind, "reason": reason}
    )
    return value or 0.0


def _send(api: ApiServer, key: str, agent: dict[str, Any], t: float | None = None) -> int:
    body = batch(2, t=t)
    body["agent"] = {"version": "2.0.0", **agent}
    r = api.client.post(
        "/api/v1/metrics/collect", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    return r.status_code


def test_agent_drops_refusals_and_clock_per_host(api: ApiServer) -> None:
    """On every store, with the metadata on PostgreSQL for the PostgreSQL one."""
    name = f"lossy-{uuid.uuid4().hex[:6]}"
    reason = f"spool_full_{uuid.uuid4().hex[:6]}"  # this test's own series in /metrics
    key = api.enroll(name)
    assert _host(api, name)["drops"] == []
    assert _host(api, name)["clock"] is None

    agent = {"dropped_points": 920, "dropped": {reason: 920}, "quarantined_files": 2}
    assert _send(api, key, {**agent, "clock_offset_s": 12.5}) == 202
    # Visible before the periodic flush (merged with what this process holds)...
    assert _drops(api, name) == {("agent", reason): 920, ("quarantine", "files"): 2}
    clock = _host(api, name)["clock"]
    assert clock["offset_s"] == 12.5
    assert clock["source"] == "agent"
    api.state.losses.flush()
    # ...and after it, from the database.
    assert _drops(api, name) == {("agent", reason): 920, ("quarantine", "files"): 2}
    assert _metric(api, "agent", reason) == 920

    # Cumulative counters: growth is added; a smaller value is an agent reset, a fresh start.
    assert _send(api, key, {"dropped_points": 930, "dropped": {reason: 930}}) == 202
    api.state.losses.flush()
    assert _drops(api, name)[("agent", reason)] == 930
    assert _send(api, key, {"dropped_points": 5, "dropped": {reason: 5}}) == 202
    assert _drops(api, name)[("agent", reason)] == 935  # merged view, before the flush
    api.state.losses.flush()
    assert _drops(api, name)[("agent", reason)] == 935
    assert _metric(api, "agent", reason) == 935
    # The same report again adds nothing.
    assert _send(api, key, {"dropped_points": 5, "dropped": {reason: 5}}) == 202
    api.state.losses.flush()
    assert _drops(api, name)[("agent", reason)] == 935
    # Growth, then a reset, between two flushes: both count.
    assert _send(api, key, {"dropped_points": 10, "dropped": {reason: 10}}) == 202
    assert _send(api, key, {"dropped_points": 2, "dropped": {reason: 2}}) == 202
    assert _drops(api, name)[("agent", reason)] == 942
    api.state.losses.flush()
    assert _drops(api, name)[("agent", reason)] == 942
    assert _metric(api, "agent", reason) == 942

    # What the server itself refused for the host, by reason.
    refused_before = _metric(api, "refused", "too_old")
    assert _send(api, key, {}, t=now_s() - 2 * 86400) == 422
    assert _drops(api, name)[("refused", "too_old")] == 2
    assert _metric(api, "refused", "too_old") == refused_before + 2
    api.state.losses.flush()
    assert _drops(api, name)[("refused", "too_old")] == 2
    text = api.client.get("/metrics").text
    assert f'fleetmon_points_dropped_total{{kind="agent",reason="{reason}"}} 942.0' in text
    assert "fleetmon_spool_files_quarantined_total" in text

    listed = api.client.get("/api/v1/hosts", headers=api.auth("viewer")).json()
    row = next(h for h in listed if h["name"] == name)
    assert {(d["kind"], d["reason"]) for d in row["drops"]} == {
        ("agent", reason),
        ("quarantine", "files"),
        ("refused", "too_old"),
    }
    assert row["clock"]["offset_s"] == 0.0  # the last batches said 0


def test_line_protocol_clock_is_estimated_from_arrival(sqlite_api: ApiServer) -> None:
    api = sqlite_api
    name = f"telegraf-{uuid.uuid4().hex[:6]}"
    key = api.enroll(name)
    behind = int(now_s()) - 100
    r = api.client.post(
        "/write",
        params={"precision": "s"},
        content=f"cpu usage_user=1 {behind - 10}\ncpu usage_user=2 {behind}\n",
        headers={"Authorization": f"Token {key}"},
    )
    assert r.status_code == 204, r.text
    api.state.losses.flush()
    clock = _host(api, name)["clock"]
    assert clock["source"] == "arrival"
    assert 100 <= clock["offset_s"] < 110


def test_a_deleted_host_loses_its_records(sqlite_api: ApiServer) -> None:
    api = sqlite_api
    name = f"gone-{uuid.uuid4().hex[:6]}"
    key = api.enroll(name)
    host_id = _host(api, name)["id"]
    assert _send(api, key, {"dropped_points": 3, "dropped": {"spool_full": 3}}) == 202
    api.state.losses.flush()
    assert _stored_rows(api, host_id) == 1
    assert _send(api, key, {"dropped_points": 4, "dropped": {"spool_full": 4}}) == 202
    r = api.client.delete(f"/api/v1/hosts/{name}", headers=api.auth())
    assert r.status_code == 204
    api.state.losses.flush()  # what was pending for it is forgotten, not written
    assert _stored_rows(api, host_id) == 0


def _stored_rows(api: ApiServer, host_id: int) -> int:
    with api.state.sessions() as db:
        return len(db.scalars(select(HostDrop).where(HostDrop.host_id == host_id)).all())


def test_rule_preview_and_validation_of_host_record_kinds(sqlite_api: ApiServer) -> None:
    api = sqlite_api
    name = f"skewed-{uuid.uuid4().hex[:6]}"
    key = api.enroll(name)
    assert _send(api, key, {"clock_offset_s": -900.0, "dropped": {"spool_full": 7}}) == 202
    for kind, threshold, value in (("clock_skew", 30.0, 900.0), ("data_loss", 0.0, 7.0)):
        rule = {"name": "p", "kind": kind, "threshold": threshold, "scope": {"hosts": [name]}}
        r = api.client.post("/api/v1/alerts/rules/preview", json=rule, headers=api.auth())
        assert r.status_code == 200, r.text
        assert [(h["host"], h["matches"], h["value"]) for h in r.json()["hosts"]] == [
            (name, True, value)
        ]
    bad = {"name": "b", "kind": "data_loss", "metric": "cpu.usage_user"}
    r = api.client.post("/api/v1/alerts/rules", json=bad, headers=api.auth())
    assert r.status_code == 422
    assert "metric must be empty" in r.text


def test_refusals_count_the_points_that_can_never_be_stored(sqlite_api: ApiServer) -> None:
    """A refused batch is split and resent by its sender: only the offending points count."""
    api = sqlite_api
    name = f"mixed-{uuid.uuid4().hex[:6]}"
    key = api.enroll(name)
    auth = {"Authorization": f"Bearer {key}"}
    body = batch(4)
    body["points"][1]["time"] = now_s() - 3 * 86400
    body["points"][3]["time"] = now_s() - 2 * 86400
    r = api.client.post("/api/v1/metrics/collect", json=body, headers=auth)
    assert r.status_code == 422
    body = batch(5)
    body["points"][2]["tags"] = {"bad key": "x"}
    r = api.client.post("/api/v1/metrics/collect", json=body, headers=auth)
    assert (r.status_code, r.json()["reason"]) == (422, "invalid")
    t = int(now_s())
    lines = f"cpu x=1 {t}\ncpu x=2 {t + 3600}\ncpu x=3 {t + 7200}\ncpu x=4 {t}\n"
    r = api.client.post(
        "/write",
        params={"precision": "s"},
        content=lines,
        headers={"Authorization": f"Token {key}"},
    )
    assert r.status_code == 400  # a partial write: lines 1 and 4 are stored
    assert "dropped=2" in r.text
    too_many = {"batch_id": "big", "points": batch(101)["points"]}  # this server takes 100
    r = api.client.post("/api/v1/metrics/collect", json=too_many, headers=auth)
    assert r.status_code == 413
    api.state.losses.flush()
    assert _drops(api, name) == {
        ("refused", "too_old"): 2,
        ("refused", "invalid"): 1,
        ("refused", "in_future"): 2,
    }


def test_one_host_cannot_grow_its_drop_reasons_without_bound(sqlite_api: ApiServer) -> None:
    api = sqlite_api
    name = f"noisy-{uuid.uuid4().hex[:6]}"
    key = api.enroll(name)
    for start in range(0, 48, 16):  # 16 reasons per batch, the wire's limit
        reasons = {f"r{i:02d}": 1 for i in range(start, start + 16)}
        assert _send(api, key, {"dropped": reasons}) == 202
        api.state.losses.flush()
    kept = [k for k in _drops(api, name) if k[0] == "agent"]
    assert len(kept) == 32
    assert ("agent", "r00") in kept
    assert ("agent", "r47") not in kept


def test_two_workers_flushing_out_of_order_do_not_count_a_reset(sqlite_api: ApiServer) -> None:
    """Batches of one agent reach two workers; the one holding the older counter flushes
    last: its value is stale, not a reset of the agent."""
    api = sqlite_api
    name = f"workers-{uuid.uuid4().hex[:6]}"
    api.enroll(name)
    host_id = _host(api, name)["id"]
    clock = FakeClock()
    first, second = (LossBook(api.state.sessions, clock.now, Telemetry()) for _ in range(2))
    first.agent_report(host_id, {"spool_full": 925}, 925, 0, 40.0)
    clock.advance(5)
    second.agent_report(host_id, {"spool_full": 930}, 930, 0, 0.5)
    second.flush()
    first.flush()
    assert _drops(api, name) == {("agent", "spool_full"): 930}
    with api.state.sessions() as db:
        row = db.scalars(select(Host).where(Host.id == host_id)).one()
        assert (row.clock_offset_s, row.clock_measured_at) == (0.5, clock.now())
    clock.advance(5)
    first.agent_report(host_id, {"spool_full": 940}, 940, 0, 0.0)
    first.flush()
    assert _drops(api, name) == {("agent", "spool_full"): 940}
