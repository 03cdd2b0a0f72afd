"""Dashboards are current, well-formed, and every panel query runs against what the agent emits."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from dashboard import generate
from fleetmon_db.timeseries import NS, Point, open_store
from tests.support.agent import agent_once_batch
from tests.support.servers import InfluxServer

ROOT = Path(__file__).resolve().parents[2]
BOARDS = sorted((ROOT / "dashboard" / "dashboards").glob("*.json"))
HOST = "dash-host-1"


def _targets() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """InfluxQL targets (the alerts board's SQL is run by test_alerts_board.py)."""
    for path in BOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                if target["datasource"]["type"] == "influxdb":
                    yield path.name, panel["title"], target


def test_committed_dashboards_match_the_generator() -> None:
    assert [p.name for p in BOARDS] == sorted(generate.DASHBOARDS)
    for path in BOARDS:
        assert path.read_text() == generate.render(generate.DASHBOARDS[path.name]), path.name


def test_dashboards_are_well_formed_and_use_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (ROOT / "dashboard/provisioning/datasources/fleetmon.yaml").read_text()
    )
    sources = {d["uid"]: d["type"] for d in provisioned["datasources"]}
    assert sources["fleetmon-influx"] == "influxdb"
    uids = set()
    for path in BOARDS:
        board = json.loads(path.read_text())
        assert board["uid"] not in uids
        uids.add(board["uid"])
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] >= 0, (path.name, panel["title"])
            assert pos["x"] + pos["w"] <= 24, (path.name, panel["title"])
            assert panel["targets"], (path.name, panel["title"])
            for target in panel["targets"]:
                ds = target["datasource"]
                assert sources.get(ds["uid"]) == ds["type"], (path.name, panel["title"])
                if ds["type"] != "influxdb":
                    continue
                assert "$timeFilter" in target["query"], (path.name, panel["title"])
                assert '"host" =~ /^$host$/' in target["query"], (path.name, panel["title"])


@pytest.fixture(scope="module")
def seeded_influx(influx_server: InfluxServer) -> str:
    """An InfluxDB database holding two real agent batches ten seconds apart."""
    db = "dashboards"
    store = open_store(f"{influx_server.url}/{db}")
    try:
        store.ensure_schema()
        now = time.time()
        for shift in (20.0, 10.0):
            batch = agent_once_batch()["points"]
            store.write(
                [
                    Point(
                        host=HOST,
                        measurement=p["measurement"],
                        time_ns=int((now - shift) * NS),
                        tags=p["tags"],
                        fields=p["fields"],
                    )
                    for p in batch
                ]
            )
    finally:
        store.close()
    return db


def _render(query: str) -> str:
    """Substitute Grafana's macros the way Grafana does for a 1-hour range."""
    query = query.replace("$timeFilter", "time > now() - 1h").replace("$__interval", "10s")
    return query.replace("$host", re.escape(HOST))


@pytest.mark.parametrize(
    ("board", "title", "target"),
    list(_targets()),
    ids=[f"{b}:{t}:{x['refId']}" for b, t, x in _targets()],
)
def test_panel_query_returns_agent_data(
    board: str, title: str, target: dict[str, Any], seeded_influx: str, influx_server: InfluxServer
) -> None:
    resp = httpx.post(
        f"{influx_server.url}/query",
        data={"db": seeded_influx, "q": _render(target["query"])},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    result = resp.json()["results"][0]
    assert "error" not in result, f"{board} / {title}: {result.get('error')}"
    series = result.get("series", [])
    assert series, f"{board} / {title}: no data for {target['query']!r}"
    values = [v for s in series for row in s["values"] for v in row[1:] if v is not None]
    assert values, f"{board} / {title}: only nulls"
