"""The thin slice on every store: enroll, ingest one batch, read it back; health."""

from __future__ import annotations

import time

from tests.api.harness import ApiServer, batch


def test_health_reports_each_dependency(api: ApiServer) -> None:
    r = api.client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}  # details only for signed-in people
    r = api.client.get("/health", headers=api.auth("viewer"))
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["store"]["status"] == "ok"


def test_ingest_then_current(api: ApiServer) -> None:
    key = api.enroll("slice-host")
    r = api.client.post(
        "/api/v1/metrics/collect", json=batch(3), headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 202, r.text
    assert r.json()["points"] == 3
    assert r.json()["host"] == "slice-host"
    r = api.client.get(
        "/api/v1/metrics/current", params={"host": "slice-host"}, headers=api.auth("viewer")
    )
    assert r.status_code == 200, r.text
    values = {(s["measurement"], s["field"]): s["value"] for s in r.json()["series"]}
    assert values[("cpu", "usage_user")] == 2.0
    assert values[("cpu", "usage_idle")] == 88.0


def test_host_identity_comes_from_key_not_body(api: ApiServer) -> None:
    key_a = api.enroll("ident-a")
    api.enroll("ident-b")
    b = batch(2)
    for p in b["points"]:
        p["tags"]["host"] = "ident-b"
    r = api.client.post(
        "/api/v1/metrics/collect", json=b, headers={"Authorization": f"Bearer {key_a}"}
    )
    assert r.status_code == 202
    auth = api.auth()
    cur_b = api.client.get("/api/v1/metrics/current", params={"host": "ident-b"}, headers=auth)
    assert cur_b.json()["series"] == []
    cur_a = api.client.get("/api/v1/metrics/current", params={"host": "ident-a"}, headers=auth)
    assert {s["tags"].get("host") for s in cur_a.json()["series"]} == {None}
    assert len(cur_a.json()["series"]) == 2


def test_last_seen_and_version_without_db_write_per_request(api: ApiServer) -> None:
    key = api.enroll("seen-host")
    before = time.time()
    r = api.client.post(
        "/api/v1/metrics/collect", json=batch(1), headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 202
    host = api.client.get("/api/v1/hosts/seen-host", headers=api.auth()).json()
    assert host["agent_version"] == "1.2.3"
    assert host["status"] == "up"
    api.state.presence.flush()
    with api.state.sessions() as db:
        from sqlalchemy import select

        from fleetmon_db.models import Host

        row = db.scalar(select(Host).where(Host.name == "seen-host"))
        assert row is not None
        assert row.last_seen is not None
        assert row.last_seen.timestamp() >= before - 1
        assert row.agent_version == "1.2.3"
