"""Store suite, the contract itself: declared capabilities, failures, wiring."""

from __future__ import annotations

import pytest

from fleetmon_db.timeseries import NS, StoreError, StoreUnavailable, open_store
from fleetmon_db.timeseries.influx import InfluxStore
from fleetmon_db.timeseries.sql import SqlStore
from fleetmon_db.timeseries.tiers import Tier
from tests.database.helpers import pt
from tests.support.servers import free_port

# -- failures and wiring -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["influxdb", "postgresql"])
def test_unreachable_server_is_unavailable(kind: str) -> None:
    port = free_port()
    url = (
        f"http://127.0.0.1:{port}/fleetmon"
        if kind == "influxdb"
        else f"postgresql+psycopg://postgres@127.0.0.1:{port}/nothing"
    )
    s = open_store(url, timeout=2) if kind == "influxdb" else open_store(url)
    try:
        with pytest.raises(StoreUnavailable):
            s.ping()
        with pytest.raises(StoreUnavailable):
            s.write([pt("a", NS, {"x": 1.0})])
        with pytest.raises(StoreUnavailable):
            s.latest("a")
    finally:
        s.close()


def test_influx_rejection_is_store_error_with_message(influx_server: object) -> None:
    s = open_store(f"{influx_server.url}/no_such_db")  # type: ignore[attr-defined]
    try:
        with pytest.raises(StoreError, match="database not found") as info:
            s.write([pt("a", NS, {"x": 1.0})])
        assert not isinstance(info.value, StoreUnavailable)
    finally:
        s.close()


def test_open_store_urls(tmp_path: object) -> None:
    s = open_store("http://u%40x:p%3Aw@127.0.0.1:1/fleet%20db?token=tok")
    assert isinstance(s, InfluxStore)
    assert s.database == "fleet db"
    s.close()
    s = open_store("https://127.0.0.1:1/db", influx_token="t2")
    assert isinstance(s, InfluxStore)
    assert s.database == "db"
    s.close()
    s = open_store(f"sqlite:///{tmp_path}/x.db", tiers=(Tier("raw", 0, 3600), Tier("1m", 60, 7200)))
    assert isinstance(s, SqlStore)
    assert s.name == "sqlite"
    assert [t.name for t in s.tiers] == ["raw", "1m"]
    s.close()
