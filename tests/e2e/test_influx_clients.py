"""Real InfluxDB clients push into a running fleetmon with a host key, and their data is read
back through fleetmon's API under that host.

Glances runs for real (both exporters, a few refreshes, its own log checked); influxdb-python
and influxdb-client's write API are the libraries those exporters and many scripts use.
Telegraf cannot be installed here: its InfluxDB output's requests are reproduced byte for byte
(plugins/outputs/influxdb/http.go: `POST /query` with a form body, then `POST /write`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.harness import ApiServer, now_s, running_api

GLANCES = Path(sys.executable).with_name("glances")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """An API on SQLite (the InfluxDB surface does not depend on the store)."""
    tmp = tmp_path_factory.mktemp("influx-clients")
    with running_api(f"sqlite:///{tmp / 'meta.db'}", f"sqlite:///{tmp / 'metrics.db'}") as server:
        yield server


def _series(api: ApiServer, host: str) -> list[dict[str, Any]]:
    r = api.client.get("/api/v1/metrics/current", params={"host": host}, headers=api.auth())
    assert r.status_code == 200, r.text
    series: list[dict[str, Any]] = r.json()["series"]
    return series


def _glances_conf(tmp: Path, api: ApiServer, key: str) -> Path:
    conf = tmp / "glances.conf"
    conf.write_text(
        f"[influxdb]\nhost=127.0.0.1\nport={api.port}\nprotocol=http\n"
        f"user=glances\npassword={key}\ndb=glances\n"
        f"[influxdb2]\nhost=127.0.0.1\nport={api.port}\nprotocol=http\n"
        f"user=glances\npassword=unused\norg=fleetmon\nbucket=glances\ntoken={key}\ninterval=1\n"
    )
    return conf


# Glances plugins that only read this host.
_PLUGINS = "cpu,mem,memswap,load,network,diskio,fs,system,uptime,processcount"
# influxdb-client's batching writer logs this when Glances exits without closing it (its
# influxdb2 export has no exit hook): the last batch, queued during shutdown, is the client's
# loss, not a server answer. Every other ERROR/CRITICAL line fails the test.
_GLANCES_SHUTDOWN = "The batch item wasn't processed successfully because: cannot schedule new"


@pytest.mark.parametrize("exporter", ["influxdb", "influxdb2"])
def test_glances_exports_into_fleetmon(api: ApiServer, tmp_path: Path, exporter: str) -> None:
    host = f"glances-{exporter}"
    key = api.enroll(host)
    conf = _glances_conf(tmp_path, api, key)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    # Only plugins that read this host: `cloud` would ask 169.254.169.254, and traffic stays
    # on loopback.
    cmd = [str(GLANCES), "-C", str(conf), "--export", exporter, "--quiet",
           "--stop-after", "3", "-t", "1", "--disable-check-update",
           "--disable-plugin", "all", "--enable-plugin", _PLUGINS]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    log = (tmp_path / "glances" / "glances.log").read_text()
    assert done.returncode == 0, (done.stderr, log)
    errors = [
        line
        for line in log.splitlines()
        if (" -- ERROR -- " in line or " -- CRITICAL -- " in line) and _GLANCES_SHUTDOWN not in line
    ]
    assert errors == [], log
    assert "Cannot export" not in log
    if exporter == "influxdb2":
        assert "Connected to InfluxDB server version 1.8.10 (ready for queries and writes)" in log
    else:
        assert "Stats will be exported to InfluxDB server" in log
    series = _series(api, host)
    measurements = {s["measurement"] for s in series}
    assert {"cpu", "mem", "load", "network"} <= measurements, measurements
    mem = next(s for s in series if s["measurement"] == "mem" and s["field"] == "percent")
    assert 0 < mem["value"] <= 100
    assert abs(mem["time"] - now_s()) < 60


def test_influxdb_python_writes_points(api: ApiServer) -> None:
    from influxdb import InfluxDBClient  # type: ignore[import-untyped]

    key = api.enroll("influxdb-python")
    url = httpx.URL(api.url)
    client = InfluxDBClient(host=url.host, port=url.port, username="u", password=key, database="d")
    try:
        assert client.write_points(
            [
                {
                    "measurement": "disk",
                    "tags": {"path": "/data disk", "host": "someone-else"},
                    "fields": {"used_percent": 12.5, "inodes_free": 7},
                }
            ]
        )
        assert client.write(["temp,sensor=cpu temp=41.5"], protocol="line")
    finally:
        client.close()
    got = {(s["measurement"], s["field"]): s for s in _series(api, "influxdb-python")}
    assert got[("disk", "used_percent")]["tags"] == {"path": "/data disk"}
    assert got[("disk", "inodes_free")]["value"] == 7
    assert got[("temp", "temp")]["value"] == 41.5
    r = api.client.get("/api/v1/hosts/someone-else", headers=api.auth())
    assert r.status_code == 404


def test_influxdb_client_write_api(api: ApiServer) -> None:
    from influxdb_client.client.influxdb_client import InfluxDBClient
    from influxdb_client.client.write.point import Point
    from influxdb_client.client.write_api import SYNCHRONOUS

    key = api.enroll("influxdb-client")
    with InfluxDBClient(url=api.url, token=key, org="o") as client:
        write = client.write_api(write_options=SYNCHRONOUS)
        write.write("bucket", "o", Point("net").tag("interface", "eth0").field("bytes_recv", 99))
        write.write("bucket", "o", "system load1=0.75,n_cpus=4i")
    got = {(s["measurement"], s["field"]): s for s in _series(api, "influxdb-client")}
    assert got[("net", "bytes_recv")]["value"] == 99
    assert got[("net", "bytes_recv")]["tags"] == {"interface": "eth0"}
    assert got[("system", "load1")]["value"] == 0.75


def test_telegraf_requests_create_database_then_a_batch_with_one_bad_line(
    api: ApiServer,
) -> None:
    key = api.enroll("telegraf-host")
    headers = {"User-Agent": "Telegraf/1.30.0 Go/1.22.1", "Authorization": f"Token {key}"}
    r = api.client.post(
        "/query",
        content=b'q=CREATE+DATABASE+"telegraf"',
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"results": [{"statement_id": 0}]}
    t = int(now_s()) * 1_000_000_000
    body = (
        f"cpu,cpu=cpu-total,host=h usage_user=1.5,usage_idle=97 {t}\n"
        f"exec,host=h my\\ metric=1,weird\\,name=2 {t}\n"
        f"broken,host=h value=\n"
        f"mem,host=h used_percent=40.5,available=123i {t}\n"
    )
    r = api.client.post(
        "/write",
        params={"db": "telegraf"},
        content=body.encode(),
        headers={**headers, "Content-Type": "text/plain; charset=utf-8"},
    )
    # Telegraf discards (does not retry) a batch whose error says "partial write".
    assert r.status_code == 400
    assert r.json()["error"] == (
        "partial write: line 3: unable to parse 'broken,host=h value=': "
        "field 'value' has no value dropped=1"
    )
    got = {(s["measurement"], s["field"]) for s in _series(api, "telegraf-host")}
    assert got == {
        ("cpu", "usage_user"),
        ("cpu", "usage_idle"),
        ("exec", "my metric"),
        ("exec", "weird,name"),
        ("mem", "used_percent"),
        ("mem", "available"),
    }
