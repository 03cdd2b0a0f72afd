"""The API on InfluxDB 2.7 and 3.7+ (emulated): the probed server in /health, host purge."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetmon_api.stores import ensure_schema_soon
from fleetmon_db.timeseries import UnsupportedServer, open_store
from tests.api.harness import ApiServer, batch, running_api
from tests.support.influxemu import TOKEN, start_emulator
from tests.support.servers import InfluxServer
from tests.support.stores import store_spec


@pytest.fixture(scope="module", params=["influxdb-2.7-emulated", "influxdb-3.7-emulated"])
def versioned_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ApiServer, str]]:
    """An API server on an emulated InfluxDB version, and its store URL."""
    tmp: Path = tmp_path_factory.mktemp(request.param)
    with (
        store_spec(request.param, request, tmp) as spec,
        running_api(f"sqlite:///{tmp / 'meta.db'}", spec.url) as server,
    ):
        yield server, spec.url


def test_health_names_the_server_version(versioned_api: tuple[ApiServer, str]) -> None:
    api, _ = versioned_api
    assert "checks" not in api.client.get("/health").json()  # detail for signed-in people
    store = api.client.get("/health", headers=api.auth()).json()["checks"]["store"]
    assert store["status"] == "ok"
    assert store["server"]["family"] in ("2.x", "3.x")
    assert store["server"]["version"] in ("v2.7.12", "3.7.0")


def test_purge_deletes_where_the_server_can_and_refuses_first_where_not(
    versioned_api: tuple[ApiServer, str],
) -> None:
    api, url = versioned_api
    key = api.enroll("purge-me")
    r = api.client.post(
        "/api/v1/metrics/collect", json=batch(3), headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 202, r.text
    store = open_store(url)
    try:
        store.ping()  # the capability set is known once the server has answered
        assert "purge-me" in store.hosts()
        r = api.client.delete(
            "/api/v1/hosts/purge-me", params={"purge": "true"}, headers=api.auth()
        )
        if store.capabilities.deletes_hosts:  # 2.x: /api/v2/delete per bucket
            assert r.status_code == 204, r.text
            assert "purge-me" not in store.hosts()
            return
        # 3.x: refused before the host row is deleted, so nothing is orphaned.
        assert r.status_code == 409
        assert "cannot delete" in r.json()["detail"]
        assert api.client.get("/api/v1/hosts/purge-me", headers=api.auth()).status_code == 200
        assert "purge-me" in store.hosts()
        r = api.client.delete("/api/v1/hosts/purge-me", headers=api.auth())
        assert r.status_code == 204
    finally:
        store.close()


def test_start_up_refuses_influxdb_3_6_with_one_line(
    influx_server: InfluxServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The API's start-up step (ensure_schema_soon, run by its lifespan) logs one line and
    raises: the server does not start, and does not retry a version that cannot work."""
    emulator = start_emulator("3.6", influx_server.url)
    store = open_store(f"{emulator.url}/fleetmon?token={TOKEN}")
    try:
        with (
            caplog.at_level(logging.ERROR, logger="fleetmon_api.stores"),
            pytest.raises(UnsupportedServer),
        ):
            ensure_schema_soon(store, threading.Event(), 0.1)
        (line,) = [r.getMessage() for r in caplog.records if r.name == "fleetmon_api.stores"]
        assert line.startswith("InfluxDB 3.6.0 (Core) cannot serve fleetmon")
        assert "upgrade InfluxDB to 3.7 or later" in line
        assert "\n" not in line
    finally:
        store.close()
        emulator.stop()
