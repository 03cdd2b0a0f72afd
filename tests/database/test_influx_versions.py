"""InfluxDB versions: the capability probe, and what differs on 2.7 and 3.x (emulated)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fleetmon_db.timeseries import NS, PointsDropped, StoreError, open_store
from fleetmon_db.timeseries.influx import InfluxStore
from fleetmon_db.timeseries.influx.version import UnsupportedServer, features
from fleetmon_db.timeseries.tiers import DEFAULT_TIERS
from tests.database.helpers import H, pt
from tests.support.influxemu import TOKEN, Emulator, start_emulator
from tests.support.servers import InfluxServer
from tests.support.stores import fresh_store, provision_v2_buckets


@pytest.mark.parametrize(
    ("version", "build", "family", "delete", "clock"),
    [
        ("1.6.7~rc0", "OSS", "1.x", "drop-series", True),
        ("1.8.10", "OSS", "1.x", "drop-series", True),
        ("v2.7.12", "OSS", "2.x", "api-v2-delete", False),
        ("3.7.0", "Core", "3.x", "none", False),
        ("3.10.1", "Enterprise", "3.x", "none", False),
    ],
)
def test_features_of_supported_versions(
    version: str, build: str, family: str, delete: str, clock: bool
) -> None:
    f = features(version, build)
    assert (f.family, f.delete, f.drops_shards) == (family, delete, clock)
    assert f.as_dict()["version"] == version


@pytest.mark.parametrize("version", ["3.0.0", "3.2.1", "3.6.0", "v3.6.0"])
def test_3_0_to_3_6_are_refused_with_one_clear_line(version: str) -> None:
    with pytest.raises(UnsupportedServer) as info:
        features(version, "Core")
    msg = str(info.value)
    assert "\n" not in msg
    assert version.lstrip("v") in msg
    assert "3.7 or later" in msg


@pytest.mark.parametrize("version", ["", "banana", "4.0.0", "0.13.0"])
def test_unknown_versions_are_refused(version: str) -> None:
    with pytest.raises(UnsupportedServer, match="InfluxDB"):
        features(version, "")


@pytest.fixture
def influx_36(influx_server: InfluxServer) -> Iterator[Emulator]:
    emulator = start_emulator("3.6", influx_server.url)
    yield emulator
    emulator.stop()


def test_store_refuses_influxdb_3_6_at_start_up(influx_36: Emulator) -> None:
    store = open_store(f"{influx_36.url}/fleetmon?token={TOKEN}")
    try:
        with pytest.raises(UnsupportedServer, match=r"InfluxDB 3\.6\.0 \(Core\)"):
            store.ensure_schema()
        with pytest.raises(UnsupportedServer):
            store.ping()
        # What the probe prevents: fleetmon's reads fail on 3.6.
        resp = httpx.post(
            f"{influx_36.url}/query",
            data={"db": "fleetmon", "q": 'SELECT last(*) FROM "fleetmon"."raw"./.*/'},
            headers={"Authorization": f"Token {TOKEN}"},
        )
        assert "do not match" in resp.json()["error"]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("kind", "family"),
    [("influxdb", "1.x"), ("influxdb-2.7-emulated", "2.x"), ("influxdb-3.7-emulated", "3.x")],
)
def test_server_info_names_the_version(
    kind: str, family: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with fresh_store(kind, request, tmp_path) as store:
        assert isinstance(store, InfluxStore)
        info = store.server_info()
        assert info["family"] == family
        assert info["delete"] == {"1.x": "drop-series", "2.x": "api-v2-delete"}.get(family, "none")


def test_2_7_unqualified_reads_need_the_default_dbrp_mapping(
    influx_server: InfluxServer, influx_27: Emulator
) -> None:
    """Without the mapping the compose init creates, SHOW TAG VALUES fails on 2.7."""
    db = "v2_nomapping"
    stmts = [f'CREATE DATABASE "{db}"'] + [
        f'CREATE RETENTION POLICY "{t.name}" ON "{db}" DURATION {t.retention_s}s REPLICATION 1'
        for t in DEFAULT_TIERS
    ]
    httpx.post(f"{influx_server.url}/query", data={"q": ";".join(stmts)}).raise_for_status()
    store = open_store(f"{influx_27.url}/{db}?token={TOKEN}")
    try:
        store.ensure_schema()
        store.write([pt("a", time.time_ns() - 60 * NS, {"x": 1.0})])
        with pytest.raises(StoreError, match="default retention policy not set for: v2_nomapping"):
            store.hosts()
    finally:
        store.close()
        httpx.post(f"{influx_server.url}/query", data={"q": f'DROP DATABASE "{db}"'})


def test_2_7_12_retention_drop_is_counted_in_its_own_words(
    influx_server: InfluxServer, influx_27: Emulator
) -> None:
    db = "v2_retention"
    provision_v2_buckets(influx_server.url, influx_27.url, db, DEFAULT_TIERS)
    store = open_store(f"{influx_27.url}/{db}?token={TOKEN}")
    try:
        now = time.time_ns()
        with pytest.raises(PointsDropped) as info:
            store.write([pt("a", now - 25 * H, {"x": 1.0}), pt("a", now - H, {"x": 2.0})])
        assert info.value.dropped == 1
        assert "dropped 1 points outside retention policy of duration 24h0m0s" in str(info.value)
        # A 2.x error body is read for its message, not shown as JSON.
        bad = open_store(f"{influx_27.url}/no_such_bucket?token={TOKEN}")
        try:
            with pytest.raises(StoreError, match=r"\(404\): database not found") as err:
                bad.write([pt("a", now, {"x": 1.0})])
            assert not str(err.value).lstrip().startswith("{")
            assert '"code"' not in str(err.value)
        finally:
            bad.close()
    finally:
        store.close()
        httpx.post(f"{influx_server.url}/query", data={"q": f'DROP DATABASE "{db}"'})


@pytest.mark.parametrize("kind", ["influxdb", "influxdb-2.7-emulated", "influxdb-3.7-emulated"])
def test_field_type_conflict_is_counted_in_every_version(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A field that changes type is refused by every version, each in its own shape
    (1.x `{"error"}` 400, 2.x `{"code","message"}` 422, 3.x `{"error","data"}` 400), and
    the store reports the point dropped, never a success."""
    with fresh_store(kind, request, tmp_path) as store:
        now = time.time_ns()
        store.write([pt("a", now - 2 * 60 * NS, {"usage_user": 1.0})])
        with pytest.raises(PointsDropped) as info:
            store.write([pt("a", now - 60 * NS, {"usage_user": "text"})])
        assert info.value.dropped == 1
        assert "conflict" in str(info.value)


def test_2_7_without_the_token_is_refused_in_its_error_shape(influx_27: Emulator) -> None:
    """The emulation checks the token, so every store request above carried it."""
    store = open_store(f"{influx_27.url}/fleetmon")
    try:
        store.ping()  # /ping needs no token
        with pytest.raises(StoreError, match=r"\(401\): unauthorized access$"):
            store.hosts()
    finally:
        store.close()


def test_2_7_missing_buckets_are_named_at_start_up(
    influx_27: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(f"{influx_27.url}/v2_nobuckets?token={TOKEN}")
    try:
        with caplog.at_level(logging.ERROR, logger="fleetmon_db.timeseries.influx.store"):
            store.ensure_schema()
        (line,) = [r.getMessage() for r in caplog.records]
        assert "v2_nobuckets/raw, v2_nobuckets/5m, v2_nobuckets/1h, v2_nobuckets/1d" in line
        assert "default DBRP mapping" in line
    finally:
        store.close()


@pytest.mark.parametrize(
    ("kind", "listed"),
    [("influxdb", True), ("influxdb-2.7-emulated", False), ("influxdb-3.7-emulated", False)],
)
def test_hosts_with_only_rollup_data_are_listed_on_1x_only(
    kind: str, listed: bool, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """`hosts()` reads the raw tier on 2.7 (the default mapping's bucket) and 3.x (database
    `<db>/raw`); 1.x's SHOW TAG VALUES spans every retention policy."""
    with fresh_store(kind, request, tmp_path) as store:
        assert isinstance(store, InfluxStore)
        now = time.time_ns()
        store.write([pt("fresh", now - 60 * NS, {"usage_user": 1.0})])
        window = now - now % (300 * NS) - 3600 * NS
        store.lines.post(f"cpu,host=old usage_user_mean=1.0 {window}\n".encode(), "5m")
        assert store.hosts() == (["fresh", "old"] if listed else ["fresh"])


def test_retention_runs_beside_a_database_without_shards(
    influx_server: InfluxServer, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """SHOW SHARDS lists a database with no shards as a series without "values": the
    retention job once failed on every run (KeyError) while such a database existed."""
    empty = f"empty_{time.time_ns()}"
    httpx.post(f"{influx_server.url}/query", params={"q": f'CREATE DATABASE "{empty}"'})
    try:
        with fresh_store("influxdb", request, tmp_path) as store:
            store.write([pt("h1", time.time_ns(), {"usage": 1.0})])
            store.enforce_retention(time.time_ns())
    finally:
        httpx.post(f"{influx_server.url}/query", params={"q": f'DROP DATABASE "{empty}"'})
