"""202 means stored: points the raw tier cannot keep are refused (422 with a reason), never
acknowledged; a write the store took only in part is an error naming what was lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fleetmon_api.ingest.validate import accepted_past_s
from tests.api.harness import ApiServer, batch, now_s, running_api
from tests.support.stores import store_spec


def _count(api: ApiServer, host: str, start: float) -> int:
    r = api.client.get(
        "/api/v1/metrics/summary",
        params={"host": host, "metric": "cpu.usage_user", "start": str(int(start))},
        headers=api.auth(),
    )
    assert r.status_code == 200, r.text
    count: int = r.json()["count"]
    return count


def _window_s(api: ApiServer) -> int:
    raw = api.state.store.tiers[0].retention_s
    return accepted_past_s(api.settings.max_past_s, raw, api.settings.retention_margin_s)


def test_point_older_than_raw_retention_is_refused_not_acknowledged(api: ApiServer) -> None:
    host = f"old-{int(time.time() * 1000) % 10**8}"
    headers = {"Authorization": f"Bearer {api.enroll(host)}"}
    # The default window is a day minus the margin: far inside the old 7-day limit.
    assert _window_s(api) == 86400 - 600
    two_days = batch(3, t=now_s() - 2 * 86400)
    r = api.client.post("/api/v1/metrics/collect", json=two_days, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["reason"] == "too_old"
    assert "points[0]" in r.json()["detail"]
    assert "can never be stored" in r.json()["detail"]
    r = api.client.get("/api/v1/metrics/current", params={"host": host}, headers=api.auth())
    assert r.status_code == 200, r.text
    assert r.json()["series"] == []
    # Just inside the window: accepted, and every point is there.
    inside = batch(3, t=now_s() - _window_s(api) + 120)
    r = api.client.post("/api/v1/metrics/collect", json=inside, headers=headers)
    assert r.status_code == 202, r.text
    assert _count(api, host, now_s() - 86400) == 3


def test_line_protocol_uses_the_same_window(api: ApiServer) -> None:
    key = api.enroll()
    auth = {"Authorization": f"Token {key}"}
    old = int(now_s() - _window_s(api) - 60)
    r = api.client.post(
        "/write",
        params={"precision": "s"},
        content=f"cpu usage_user=1 {int(now_s())}\ncpu usage_user=2 {old}\n",
        headers=auth,
    )
    # A partial write, as InfluxDB answers it: the line in the window is stored.
    assert r.status_code == 400, r.text
    assert "line 2: timestamp outside the accepted window" in r.text
    ahead = int(now_s() + api.settings.max_future_s + 60)
    r = api.client.post(
        "/api/v2/write", params={"precision": "s"}, content=f"cpu x=1 {ahead}", headers=auth
    )
    assert r.status_code == 422, r.text
    assert "line 1: timestamp outside the accepted window" in r.text


@pytest.fixture(scope="module")
def influx_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    tmp: Path = tmp_path_factory.mktemp("api-influx-partial")
    with (
        store_spec("influxdb", request, tmp) as spec,
        running_api(f"sqlite:///{tmp / 'meta.db'}", spec.url) as server,
    ):
        yield server


def test_a_partial_write_is_a_422_naming_what_was_lost(influx_api: ApiServer) -> None:
    """The store keeps less than the API accepts (here a raw retention policy shortened to
    an hour behind fleetmon's back): InfluxDB answers a partial write, the API a 422."""
    api = influx_api
    db = api.settings.store_url.rsplit("/", 1)[1]
    base = api.settings.store_url.rsplit("/", 1)[0]
    q = f'ALTER RETENTION POLICY "raw" ON "{db}" DURATION 1h SHARD DURATION 1h'
    assert httpx.post(f"{base}/query", data={"q": q}, timeout=10).is_success
    headers = {"Authorization": f"Bearer {api.enroll('partial-host')}"}
    t = now_s()
    body = {
        "batch_id": "b1",
        "points": [
            {"measurement": "m", "time": t - 2 * 3600, "fields": {"v": 1.5}},
            {"measurement": "m", "time": t - 1, "fields": {"v": 2.5}},
        ],
    }
    r = api.client.post("/api/v1/metrics/collect", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["reason"] == "store_dropped"
    assert "did not keep 1 of 2 points" in r.json()["detail"]
    assert "retention" in r.json()["detail"]
    # Not acknowledged: the batch id is not recorded, so a retry is processed again.
    again = api.client.post("/api/v1/metrics/collect", json=body, headers=headers)
    assert again.status_code == 422
    api.state.losses.flush()
    r = api.client.get("/api/v1/hosts/partial-host", headers=api.auth())
    drops = {(d["kind"], d["reason"]): d["count"] for d in r.json()["drops"]}
    assert drops == {("refused", "store_dropped"): 2}
