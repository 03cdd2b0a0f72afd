"""Queries on every store: history (rates for counters), summary, categories, overview."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from fleetmon_api.routers import metrics
from tests.api.harness import ApiServer, now_s


@pytest.fixture(scope="module")
def seeded(api: ApiServer) -> dict[str, Any]:
    """Two hosts with 10 minutes of 10 s data for cpu, mem, disk, net and a counter; a third
    with loopback traffic and its fullest disk on `/` (seeded here: the overview is read once
    per snapshot, so every host it must show has to exist before its first read)."""
    t_end = int(now_s()) // 60 * 60
    keys = {name: api.enroll(name) for name in ("q-web", "q-db", "q-edge")}
    for n, (name, key) in enumerate(keys.items()):
        points = []
        for i in range(60):
            t = t_end - (60 - i) * 10
            if name == "q-edge":
                points += [
                    {"measurement": "disk", "time": t, "tags": {"path": "/"},
                     "fields": {"used_percent": 91.5}},
                    {"measurement": "disk", "time": t, "tags": {"path": "/var/lib/docker"},
                     "fields": {"used_percent": 12.0}},
                    {"measurement": "net", "time": t, "tags": {"interface": "eth0"},
                     "fields": {"bytes_recv": 3000 * i, "bytes_sent": 2000 * i}},
                    {"measurement": "net", "time": t, "tags": {"interface": "lo"},
                     "fields": {"bytes_recv": 10**7 * i, "bytes_sent": 10**7 * i}},
                ]  # fmt: skip
                continue
            points += [
                {"measurement": "cpu", "time": t, "tags": {"cpu": "cpu-total"},
                 "fields": {"usage_idle": 80.0 - n * 10, "usage_user": float(i)}},
                {"measurement": "mem", "time": t, "fields": {"used_percent": 40.0 + n}},
                {"measurement": "disk", "time": t, "tags": {"path": "/"},
                 "fields": {"used_percent": 50.0}},
                {"measurement": "disk", "time": t, "tags": {"path": "/data"},
                 "fields": {"used_percent": 70.0 + n}},
                {"measurement": "net", "time": t, "tags": {"interface": "eth0"},
                 "fields": {"bytes_recv": 1000 * i, "bytes_sent": 500 * i}},
                {"measurement": "system", "time": t, "fields": {"load1": 0.5}},
            ]  # fmt: skip
        r = api.client.post(
            "/api/v1/metrics/collect",
            json={"batch_id": f"seed-{name}", "agent": {"version": "9.9"}, "points": points},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 202, r.text
    return {"end": t_end}


def _get(api: ApiServer, path: str, **params: Any) -> Any:
    return api.client.get(path, params=params, headers=api.auth("viewer"))


def test_history_mean_with_step(api: ApiServer, seeded: dict[str, Any]) -> None:
    end = seeded["end"]
    r = _get(api, "/api/v1/metrics/history", host="q-web", metric="cpu.usage_user",
             start=str(end - 600), end=str(end), interval="60s")  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["aggregate"] == "mean"
    assert body["interval"] == 60
    (series,) = body["series"]
    values = [v for _, v in series["points"] if v is not None]
    assert len(values) == 10
    assert values[0] == pytest.approx(2.5)  # mean of 0..5 (six 10 s points per minute)


def test_history_counter_defaults_to_rate(api: ApiServer, seeded: dict[str, Any]) -> None:
    end = seeded["end"]
    r = _get(api, "/api/v1/metrics/history", host="q-web", metric="net.bytes_recv",
             start=str(end - 600), end=str(end), interval="60s")  # fmt: skip
    body = r.json()
    assert body["aggregate"] == "rate"
    values = [v for _, v in body["series"][0]["points"] if v is not None]
    assert values
    assert all(v == pytest.approx(100.0) for v in values)  # 1000 bytes per 10 s


def test_history_long_ranges_show_fresh_data(api: ApiServer, seeded: dict[str, Any]) -> None:
    # Ten minutes of data: the 7 d and 30 d views read rollup tiers whose windows may not
    # be rolled up yet; finer data answers the rest, and the answer says which tier gave what.
    end = seeded["end"]
    for days in (1, 7, 30):
        r = _get(api, "/api/v1/metrics/history", host="q-web", metric="cpu.usage_user",
                 start=str(end - days * 86_400 + 60), end=str(end))  # fmt: skip
        assert r.status_code == 200, r.text
        (series,) = r.json()["series"]
        assert [v for _, v in series["points"] if v is not None], days
        tiers = series["tiers"]
        assert tiers[-1]["name"] == "raw"
        assert tiers[-1]["to"] == end
        assert series["tier"] == tiers[0]["name"]
        assert all(a["to"] == b["from"] for a, b in itertools.pairwise(tiers))


def test_summary(api: ApiServer, seeded: dict[str, Any]) -> None:
    end = seeded["end"]
    r = _get(api, "/api/v1/metrics/summary", host="q-web", metric="cpu.usage_user",
             start=str(end - 700), end=str(end))  # fmt: skip
    body = r.json()
    assert body["count"] == 60
    assert body["min"] == 0.0
    assert body["max"] == 59.0
    assert body["avg"] == pytest.approx(29.5)
    assert 54 <= body["p95"] <= 57
    assert 57 <= body["p99"] <= 59


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"metric": "cpu"}, 422, "metric 'cpu' must be 'measurement.field'"),
        ({"metric": "cpu.nope"}, 422, "unknown metric 'cpu.nope' for host 'q-web'"),
        ({"start": "2020-01-02", "end": "2020-01-01"}, 422, "start must be before end"),
        ({"start": "yesterday"}, 422, "start: 'yesterday' is neither epoch seconds nor ISO 8601"),
        ({"interval": "1x"}, 422, "interval: '1x' must look like 30s, 5m, 1h or 1d"),
        ({"interval": "1s", "start": "0"}, 422, "time range: longer than 400 days"),
        ({"host": "nobody"}, 404, "host 'nobody' not found"),
    ],
)
def test_history_parameter_errors(
    api: ApiServer, seeded: dict[str, Any], params: dict[str, str], status: int, message: str
) -> None:
    query = {"host": "q-web", "metric": "cpu.usage_user", **params}
    r = _get(api, "/api/v1/metrics/history", **query)
    assert r.status_code == status
    assert message in str(r.json()["detail"])


def test_category_endpoints(api: ApiServer, seeded: dict[str, Any]) -> None:
    r = _get(api, "/api/v1/metrics/disk", host="q-db")
    body = r.json()
    assert set(body["measurements"]) == {"disk", "diskio"}
    paths = {s["tags"]["path"]: s["value"] for s in body["measurements"]["disk"]}
    assert paths == {"/": 50.0, "/data": 71.0}
    for cat in ("cpu", "memory", "network", "processes"):
        assert _get(api, f"/api/v1/metrics/{cat}", host="q-db").status_code == 200
    assert _get(api, "/api/v1/metrics/gpu", host="q-db").status_code == 422


def test_fleet_overview(api: ApiServer, seeded: dict[str, Any]) -> None:
    r = _get(api, "/api/v1/metrics/overview")
    assert r.status_code == 200
    hosts = {h["name"]: h for h in r.json()["hosts"]}
    web, db = hosts["q-web"], hosts["q-db"]
    assert web["status"] == "up"
    assert web["cpu_percent"] == pytest.approx(20.0)
    assert db["cpu_percent"] == pytest.approx(30.0)
    assert db["mem_percent"] == 41.0
    assert db["disk_percent"] == 71.0
    assert db["disk_path"] == "/data"
    assert web["load1"] == 0.5
    assert web["net_recv_bps"] == pytest.approx(100.0)
    assert web["net_sent_bps"] == pytest.approx(50.0)
    assert r.json()["counts"]["up"] >= 2
    # The store values' read time (a per-worker snapshot, at most overview_cache_s old).
    assert r.json()["values_time"] == pytest.approx(time.time(), abs=60)


def test_fleet_overview_network_rate_leaves_out_loopback(
    api: ApiServer, seeded: dict[str, Any]
) -> None:
    # q-edge sends 300 B/s in and 200 B/s out on eth0 and 1 MB/s each way on lo.
    edge = _overview_host(api, "q-edge")
    assert edge["net_recv_bps"] == pytest.approx(300.0)
    assert edge["net_sent_bps"] == pytest.approx(200.0)


def test_fleet_overview_names_the_fullest_disk(api: ApiServer, seeded: dict[str, Any]) -> None:
    edge = _overview_host(api, "q-edge")
    assert edge["disk_percent"] == 91.5
    assert edge["disk_path"] == "/"
    assert "cpu_percent" not in edge  # values the host never sent stay absent


def _overview_host(api: ApiServer, name: str) -> dict[str, Any]:
    r = _get(api, "/api/v1/metrics/overview")
    assert r.status_code == 200, r.text
    hosts: dict[str, dict[str, Any]] = {h["name"]: h for h in r.json()["hosts"]}
    return hosts[name]


def test_fleet_overview_sorts_filters_and_pages_on_the_server(
    api: ApiServer, seeded: dict[str, Any]
) -> None:
    # q-db has the busiest CPU (30 %), q-web 20 %, q-edge none (sorted last either way).
    r = _get(api, "/api/v1/metrics/overview", q="q-", sort="cpu", order="desc", limit="2")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [h["name"] for h in body["hosts"]] == ["q-db", "q-web"]
    assert body["total"] >= 3
    assert body["offset"] == 0
    rest = _get(
        api, "/api/v1/metrics/overview", q="q-", sort="cpu", order="desc", limit="2", offset="2"
    ).json()
    assert "q-edge" in [h["name"] for h in rest["hosts"]]
    asc = _get(api, "/api/v1/metrics/overview", q="q-", sort="cpu", order="asc").json()
    names = [h["name"] for h in asc["hosts"]]
    assert names.index("q-web") < names.index("q-db") < names.index("q-edge")
    # Counts stay those of the whole fleet; a status filter that matches nothing is empty.
    none = _get(api, "/api/v1/metrics/overview", q="q-web", status="down").json()
    assert none["hosts"] == []
    assert none["total"] == 0
    assert none["counts"] == body["counts"]
    assert _get(api, "/api/v1/metrics/overview", sort="bogus").status_code == 422


def _overview_names(api: ApiServer) -> set[str]:
    r = _get(api, "/api/v1/metrics/overview")
    assert r.status_code == 200, r.text
    return {h["name"] for h in r.json()["hosts"]}


def test_a_large_fleets_overview_host_list_is_a_snapshot(
    sqlite_api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small fleets read the host list per request; past HOST_ROWS_SNAPSHOT_MIN hosts it is a
    # per-worker snapshot re-read in the background once HOST_ROWS_FRESH_S old.
    monkeypatch.setattr(metrics, "HOST_ROWS_SNAPSHOT_MIN", 0)
    monkeypatch.setattr(metrics, "HOST_ROWS_FRESH_S", 2.0)
    hosts = sqlite_api.state.overview_hosts
    sqlite_api.enroll("snap-first")
    try:
        _overview_names(sqlite_api)  # decides the fleet is large: this read becomes the snapshot
        _overview_names(sqlite_api)
        assert hosts.large
        sqlite_api.enroll("snap-new")
        assert "snap-new" not in _overview_names(sqlite_api)  # the snapshot, read before
        deadline = time.monotonic() + 10
        while "snap-new" not in _overview_names(sqlite_api) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "snap-new" in _overview_names(sqlite_api)
    finally:
        hosts.large = False
