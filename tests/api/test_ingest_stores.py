"""Ingest behaviour that depends on the store: idempotent retries, line protocol, 503."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.conftest import ApiServers
from tests.api.harness import ApiServer, batch, now_s, running_api
from tests.support.servers import free_port
from tests.support.stores import API_STORE_KINDS, EMULATED, STORE_KINDS


@pytest.fixture(
    scope="module", params=[*API_STORE_KINDS, *(k for k in STORE_KINDS if k in EMULATED)]
)
def api(request: pytest.FixtureRequest, api_servers: ApiServers) -> ApiServer:
    """The ingest path on every store kind, InfluxDB 2.7 and 3.7 (emulated) included."""
    return api_servers.get(request.param)


def _count(api: ApiServer, host: str, metric: str) -> int:
    r = api.client.get(
        "/api/v1/metrics/summary",
        params={"host": host, "metric": metric, "start": str(now_s() - 600)},
        headers=api.auth(),
    )
    assert r.status_code == 200, r.text
    count: int = r.json()["count"]
    return count


def test_retried_batch_is_acknowledged_not_rewritten(api: ApiServer) -> None:
    key = api.enroll("idem-host")
    headers = {"Authorization": f"Bearer {key}"}
    b = batch(5, batch_id=str(uuid.uuid4()))
    first = api.client.post("/api/v1/metrics/collect", json=b, headers=headers)
    assert first.status_code == 202
    assert first.json()["duplicate"] is False
    again = api.client.post("/api/v1/metrics/collect", json=b, headers=headers)
    assert again.status_code == 202
    assert again.json()["duplicate"] is True
    assert again.json()["points"] == 5
    assert _count(api, "idem-host", "cpu.usage_user") == 5
    dupes = api.client.get("/metrics").text
    assert "fleetmon_ingest_duplicate_batches_total" in dupes


TELEGRAF = (
    "# a comment line\n"
    "cpu,cpu=cpu-total,host=liar usage_user=12.5,usage_idle=80 {t}\n"
    "disk,path=/mnt/my\\ disk,fstype=ext4 used_percent=41.5,inodes_free=100i,ro=false {t}\n"
    "net,interface=eth\\,0\\ x\\=y bytes_recv=123456789i,up=true,"
    'label="a \\"quoted\\" = str" {t}\n'
    "\n"
    "system load1=0.5,uptime=3600u {t}\n"
)


def test_line_protocol_as_telegraf_emits_it(api: ApiServer) -> None:
    key = api.enroll("lp-host")
    t = int(now_s())
    body = TELEGRAF.format(t=t)
    r = api.client.post(
        "/write", params={"db": "telegraf", "precision": "s"}, content=body,
        headers={"Authorization": f"Token {key}"},
    )  # fmt: skip
    assert r.status_code == 204, r.text
    r = api.client.get("/api/v1/metrics/current", params={"host": "lp-host"}, headers=api.auth())
    series = r.json()["series"]
    got = {(s["measurement"], s["field"], tuple(sorted(s["tags"].items()))): s for s in series}
    assert got[("cpu", "usage_user", (("cpu", "cpu-total"),))]["value"] == 12.5
    disk = got[("disk", "used_percent", (("fstype", "ext4"), ("path", "/mnt/my disk")))]
    assert disk["value"] == 41.5
    assert abs(disk["time"] - t) < 1
    assert got[("net", "bytes_recv", (("interface", "eth,0 x=y"),))]["value"] == 123456789
    assert got[("net", "label", (("interface", "eth,0 x=y"),))]["value"] == 'a "quoted" = str'
    assert ("system", "uptime", ()) in got
    assert all("host" not in s["tags"] for s in series)
    # The host tag from the line ("liar") is overridden by the key's host.
    r = api.client.get("/api/v1/hosts/liar", headers=api.auth())
    assert r.status_code == 404


def test_line_protocol_v2_precision_and_errors(api: ApiServer) -> None:
    key = api.enroll("lp2-host")
    auth = {"Authorization": f"Token {key}"}
    ms = int(now_s() * 1000)
    r = api.client.post(
        "/api/v2/write", params={"org": "o", "bucket": "b", "precision": "ms"},
        content=f"mem used_percent=55.5 {ms}\n", headers=auth,
    )  # fmt: skip
    assert r.status_code == 204
    cur = api.client.get("/api/v1/metrics/current", params={"host": "lp2-host"}, headers=api.auth())
    (mem,) = cur.json()["series"]
    assert abs(mem["time"] - ms / 1000) < 0.01
    r = api.client.post("/api/v2/write", content="mem used_percent=\n", headers=auth)
    assert r.status_code == 400
    assert (
        r.json()["detail"]
        == "line 1: unable to parse 'mem used_percent=': field 'used_percent' has no value"
    )
    r = api.client.post("/api/v2/write", params={"precision": "x"}, content="m f=1\n", headers=auth)
    assert r.status_code == 400
    r = api.client.post("/api/v2/write", content="m f=1 1\n", headers=auth)
    assert r.status_code == 422
    assert "line 1: timestamp outside the accepted window" in r.json()["detail"]
    r = api.client.post("/write", content="m f=1\n", headers={"Authorization": "Token fm_bad"})
    assert r.status_code == 401


def test_line_protocol_basic_auth_and_p_param(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll()
    r = sqlite_api.client.post("/write", content="m f=1\n", auth=("telegraf", key))
    assert r.status_code == 204
    r = sqlite_api.client.post("/write", params={"u": "x", "p": key}, content="m f=2\n")
    assert r.status_code == 204


def test_store_down_is_503_with_retry_after(tmp_path: object) -> None:
    from pathlib import Path

    tmp = Path(str(tmp_path))
    dead = f"http://127.0.0.1:{free_port()}/fleetmon"
    with running_api(f"sqlite:///{tmp / 'meta.db'}", dead, store_retry_after_s=7) as api:
        key = api.enroll("down-host")
        r = api.client.post(
            "/api/v1/metrics/collect", json=batch(2), headers={"Authorization": f"Bearer {key}"}
        )
        assert r.status_code == 503
        assert r.headers["retry-after"] == "7"
        assert r.json()["detail"] == "time-series store unavailable; retry later"
        # Unauthenticated: the status only, never the store's error text (issue 15.6).
        anonymous = api.client.get("/health")
        assert anonymous.status_code == 503
        assert anonymous.json() == {"status": "degraded"}
        bad_token = api.client.get("/health", headers={"Authorization": "Bearer x.y.z"})
        assert bad_token.json() == {"status": "degraded"}
        health = api.client.get("/health", headers=api.auth("viewer"))
        assert health.status_code == 503
        store = health.json()["checks"]["store"]
        assert store["status"] == "error"
        assert store["error"]  # what went wrong, for people signed in
        # The agent retries; nothing was recorded as seen, so a retry would write.
        assert httpx.get(f"{api.url}/health", timeout=5).json()["status"] == "degraded"
