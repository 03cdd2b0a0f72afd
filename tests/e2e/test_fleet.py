"""A small fleet through the real API into the real influxd: 200 hosts, each with its own key,
posting real agent batches every 5 s for 20 s; every accepted value is in the store, host by
host, and the rollup job ran without error meanwhile (the long runs are `python -m bench fleet`)."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.fleet import agent_template, enroll_hosts, stored_points
from bench.fleetclient import Payloads, api_target, run_fleet
from tests.conftest import server_missing
from tests.support.servers import (
    InfluxServer,
    ServerMissing,
    free_port,
    stop_process,
    throwaway_pg_database,
    wait_http,
)

BIN = Path(sys.executable).parent
HOSTS = 200
INTERVAL_S = 5.0
SECONDS = 20.0


@pytest.fixture
def fleet_db() -> Iterator[str]:
    """A PostgreSQL database of its own (the fleet's hosts and keys)."""
    try:
        with throwaway_pg_database("fleetmon_fleet") as url:
            yield url
    except ServerMissing as exc:
        server_missing(exc)


def test_fleet_of_200_hosts_loses_nothing(
    influx_server: InfluxServer, fleet_db: str, tmp_path: Path
) -> None:
    names, keys = enroll_hosts(fleet_db, HOSTS)
    database = f"fleet_{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETMON_")}
    env |= {
        "FLEETMON_DATABASE_URL": fleet_db,
        "FLEETMON_STORE_URL": f"{influx_server.url}/{database}",
        "FLEETMON_SECRET_KEY": secrets.token_hex(32),
        "FLEETMON_DATA_DIR": str(tmp_path / "data"),
        "FLEETMON_ROLLUP_INTERVAL_S": "2",
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(BIN / "fleetmon"), "serve", "--port", str(port), "--log-level", "info"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=60, proc=proc)
        template = agent_template()
        payloads = [Payloads(n, template) for n in names]
        since = time.time_ns()
        results, wall = asyncio.run(
            run_fleet(api_target(port, keys), payloads, interval=INTERVAL_S, seconds=SECONDS)
        )
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    finally:
        stop_process(proc)
    log_text = log_path.read_text(errors="replace")

    statuses = {s for r in results for s in r.statuses}
    assert statuses == {202}, (statuses, log_text[-3000:])
    # Every host sent on its own schedule: SECONDS / INTERVAL_S batches, give or take jitter.
    per_host = [r.accepted_batches for r in results]
    assert min(per_host) >= SECONDS / INTERVAL_S - 1, per_host
    assert wall < SECONDS + 5, f"the API fell behind: {wall:.1f} s for a {SECONDS} s fleet"

    per_batch = len(template)
    until = time.time_ns() + 60 * 10**9
    stored = stored_points(influx_server.url, database, "raw", template, since, until)
    short = {
        n: (stored.get(n, 0), r.accepted_batches * per_batch)
        for n, r in zip(names, results, strict=True)
        if stored.get(n, 0) != r.accepted_batches * per_batch
    }
    assert not short, f"hosts whose stored points differ from the accepted ones: {short}"
    assert sum(stored.values()) == sum(per_host) * per_batch

    runs = dict(re.findall(r'fleetmon_rollup_runs_total\{outcome="(\w+)"\} ([\d.e+]+)', metrics))
    assert float(runs.get("ok", 0)) >= 3, metrics
    assert float(runs.get("error", 0)) == 0, log_text[-3000:]
    # Every tier within one window + a minute of now: the 5m tier's watermark is at most the
    # rollup delay plus one window behind.
    lags = dict(re.findall(r'fleetmon_rollup_lag_seconds\{tier="(\w+)"\} ([\d.e+]+)', metrics))
    assert sorted(lags) == ["1d", "1h", "5m"], metrics
    assert float(lags["5m"]) <= 300 + 60 + 5, lags
