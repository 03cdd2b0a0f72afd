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
from fleetmon_db.timeseries.tiers import DEFAULT_TIERS
from tests.support.agent import agent_once_batch
from tests.support.influxemu import TOKEN, Emulator
from tests.support.servers import InfluxServer
from tests.support.stores import provision_v2_buckets

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


# Grafana's datasource on InfluxDB 1.x, and on 2.7 as compose deploys it (buckets and the
# default DBRP mapping from deploy/influxdb-init; emulated: tests/support/influxemu).
GRAFANA_INFLUX = ("influxdb", "influxdb-2.7-emulated")
# What the provisioned datasource sends (dashboard/provisioning/datasources/fleetmon.yaml).
GRAFANA = {"Authorization": f"Token {TOKEN}"}


@pytest.fixture(scope="module", params=GRAFANA_INFLUX)
def seeded_influx(request: pytest.FixtureRequest, influx_server: InfluxServer) -> tuple[str, str]:
    """(InfluxDB URL, database) holding two real agent batches ten seconds apart."""
    db = "dashboards"
    url = influx_server.url
    if request.param != "influxdb":
        emulator: Emulator = request.getfixturevalue("influx_27")
        url = emulator.url
        db = "dashboards_v2"
        provision_v2_buckets(influx_server.url, url, db, DEFAULT_TIERS)
    store = open_store(f"{url}/{db}", influx_token=TOKEN)
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
    return url, db


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
    board: str, title: str, target: dict[str, Any], seeded_influx: tuple[str, str]
) -> None:
    url, db = seeded_influx
    resp = httpx.post(
        f"{url}/query", data={"db": db, "q": _render(target["query"])}, headers=GRAFANA, timeout=10
    )
    assert resp.status_code == 200, resp.text
    result = resp.json()["results"][0]
    assert "error" not in result, f"{board} / {title}: {result.get('error')}"
    series = result.get("series", [])
    assert series, f"{board} / {title}: no data for {target['query']!r}"
    values = [v for s in series for row in s["values"] for v in row[1:] if v is not None]
    assert values, f"{board} / {title}: only nulls"


def _variables() -> Iterator[tuple[str, str]]:
    for path in BOARDS:
        for var in json.loads(path.read_text()).get("templating", {}).get("list", []):
            if var.get("datasource", {}).get("type") == "influxdb":
                yield path.name, var["query"]


@pytest.mark.parametrize(("board", "query"), list(_variables()))
def test_template_variable_lists_the_host(
    board: str, query: str, seeded_influx: tuple[str, str]
) -> None:
    """The host picker's unqualified SHOW TAG VALUES: on 2.7 it needs the default DBRP
    mapping that the compose init creates."""
    url, db = seeded_influx
    resp = httpx.post(f"{url}/query", data={"db": db, "q": query}, headers=GRAFANA, timeout=10)
    result = resp.json()["results"][0]
    assert "error" not in result, f"{board}: {result.get('error')}"
    assert sorted({row[1] for s in result["series"] for row in s["values"]}) == [HOST]
