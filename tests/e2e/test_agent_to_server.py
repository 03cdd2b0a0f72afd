"""A real agent process pushes to a real API process; an outage is spooled and replayed in full."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fleetmon_db.timeseries import NS, Aggregate, RangeQuery, Selector, open_store
from tests.support.agent import agent_env
from tests.support.faults import Api
from tests.support.servers import stop_process

BIN = Path(sys.executable).parent
HOST = "e2e-host"
CPU_TOTAL = Selector("cpu", "usage_idle", hosts=[HOST], tags={"cpu": "cpu-total"})


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Api]:
    data = tmp_path / "server"
    data.mkdir()
    srv = Api(data)
    srv.cli("migrate")
    srv.start()
    yield srv
    srv.stop()


def _agent_env(tmp_path: Path, server: Api) -> dict[str, str]:
    return agent_env(
        FLEETMON_SERVER_URL=server.url,
        FLEETMON_SPOOL_DIR=str(tmp_path / "agent" / "spool"),
        FLEETMON_BATCH_FLUSH_INTERVAL="1s",
        FLEETMON_SERVER_RETRY_INITIAL="0.2s",
        FLEETMON_SERVER_RETRY_MAX="1s",
        FLEETMON_COLLECTORS_CPU_INTERVAL="1s",
        FLEETMON_COLLECTORS_MEM_INTERVAL="1s",
    )


def _spool_files(tmp_path: Path) -> int:
    return len(list((tmp_path / "agent" / "spool").glob("*.json")))


def _count_cpu_points(store_url: str, start: float, end: float) -> list[float]:
    """Timestamps (s) of stored cpu-total samples between start and end, straight from the store."""
    store = open_store(store_url)
    try:
        data = store.query_range(
            RangeQuery(CPU_TOTAL, int(start * NS), int(end * NS), 1, Aggregate.COUNT),
            now_ns=int(end * NS),
        )
    finally:
        store.close()
    return [t / NS for s in data for t, v in s.points if v]


def test_agent_delivers_live_and_backfills_an_outage(tmp_path: Path, server: Api) -> None:
    token = server.cli("create-enroll-token", "--uses", "1")
    env = _agent_env(tmp_path, server)
    subprocess.run(
        [
            str(BIN / "fleetmon-agent"),
            "enroll",
            "--server",
            server.url,
            "--token",
            token,
            "--name",
            HOST,
        ],
        env=env,
        check=True,
        timeout=30,
        capture_output=True,
    )
    server.cli("create-user", "ops", "--role", "viewer", "--password-stdin", stdin="pw-e2e-123\n")
    log = (tmp_path / "agent.log").open("wb")
    agent = subprocess.Popen(
        [str(BIN / "fleetmon-agent"), "run"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        jwt = httpx.post(
            f"{server.url}/api/v1/auth/token", data={"username": "ops", "password": "pw-e2e-123"}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {jwt}"}

        def current_has_cpu() -> bool:
            r = httpx.get(
                f"{server.url}/api/v1/metrics/current", params={"host": HOST}, headers=auth
            )
            return r.status_code == 200 and "cpu" in r.text and "usage_idle" in r.text

        deadline = time.monotonic() + 30
        while not current_has_cpu():
            assert time.monotonic() < deadline, "agent data never reached the API"
            time.sleep(0.5)

        # Outage: the agent must spool everything it collects meanwhile.
        server.stop()
        down_from = time.time()
        time.sleep(6)
        down_to = time.time()
        assert _spool_files(tmp_path) > 0, "nothing spooled while the server was down"
        server.start()

        deadline = time.monotonic() + 60
        while _spool_files(tmp_path) > 0:
            assert time.monotonic() < deadline, "spool did not drain after the server came back"
            time.sleep(0.5)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(10) == 0
    finally:
        stop_process(agent)
        log.close()

    store_url = f"sqlite:///{(tmp_path / 'server' / 'metrics.db').resolve()}"
    during = _count_cpu_points(store_url, down_from + 1, down_to - 1)
    # 1 s collection interval: the outage window must be covered, second by second.
    assert len(during) >= int(down_to - down_from) - 3, during
    assert "Traceback" not in (tmp_path / "agent.log").read_text()
