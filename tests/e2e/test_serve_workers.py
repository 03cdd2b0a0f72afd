"""`fleetmon serve --workers 2`: two real worker processes behind one port; batch ids and rate
limits shared through Redis; the rollup job run by exactly one worker, and by the other once
that one is gone."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from fleetmon_api.settings import Settings
from tests.support.servers import free_port, stop_process, wait_http

BIN = Path(sys.executable).parent
LEADS = re.compile(r"this worker \(pid (\d+)\) runs the rollup and retention job")


class Served:
    """A multi-worker `fleetmon serve` with SQLite stores and a Redis key prefix of its own."""

    def __init__(self, root: Path, redis_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prefix = f"fmtest-{uuid.uuid4().hex[:8]}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETMON_")}
        self.env |= {
            "FLEETMON_DATA_DIR": str(root),
            "FLEETMON_SECRET_KEY": secrets.token_hex(32),
            "FLEETMON_REDIS_URL": redis_url,
            "FLEETMON_RATE_LIMIT_KEY_PREFIX": self.prefix,
            "FLEETMON_INGEST_RATE_LIMIT": "6/minute",
            "FLEETMON_ROLLUP_INTERVAL_S": "0.3",
        }
        self.log_path = root / "serve.log"
        subprocess.run([str(BIN / "fleetmon"), "migrate"], env=self.env, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "fleetmon"), "serve", "--port", str(self.port), "--workers", "2"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def workers(self) -> set[int]:
        return {int(p) for p in re.findall(r"Started server process \[(\d+)\]", self.log())}

    def host_key(self) -> str:
        token = subprocess.run(
            [str(BIN / "fleetmon"), "create-enroll-token"], env=self.env, check=True,
            capture_output=True, text=True, timeout=60,
        ).stdout.strip()  # fmt: skip
        r = httpx.post(f"{self.url}/api/v1/hosts/enroll", json={"token": token, "name": "w-1"})
        assert r.status_code == 201, r.text
        key: str = r.json()["api_key"]
        return key


@pytest.fixture
def served(tmp_path: Path, redis_url: str) -> Iterator[Served]:
    s = Served(tmp_path, redis_url)
    try:
        wait_http(f"{s.url}/health", timeout=120, proc=s.proc)
        deadline = time.monotonic() + 120
        while len(s.workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(s.workers()) == 2, s.log()
        yield s
    finally:
        stop_process(s.proc, timeout=30)
        # Workers a slow shutdown left behind go with their process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(s.proc.pid, signal.SIGKILL)
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"*{s.prefix}*", count=1000):
            client.delete(key)
        client.close()


def _post(s: Served, key: str, batch_id: str) -> httpx.Response:
    body = {"batch_id": batch_id, "points": [{"measurement": "cpu", "time": time.time(),
                                              "tags": {"cpu": "cpu-total"},
                                              "fields": {"usage_idle": 50.0}}]}  # fmt: skip
    # A new connection per request: the kernel hands each to either worker.
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}) as c:
        return c.post(f"{s.url}/api/v1/metrics/collect", json=body)


def test_two_workers_share_state_and_elect_one_rollup_runner(
    served: Served, redis_url: str
) -> None:
    key = served.host_key()
    _share_batch_ids_and_rate_limits(served, redis_url, key)
    _keys_stay_out_of_the_access_log(served, key)
    _one_worker_runs_the_rollups_and_another_takes_over(served)


def _share_batch_ids_and_rate_limits(served: Served, redis_url: str, key: str) -> None:
    batch = str(uuid.uuid4())
    answers = [_post(served, key, batch) for _ in range(6)]
    assert [a.status_code for a in answers] == [202] * 6
    # Whichever worker took a retry, it knew the batch: stored once, acknowledged after.
    assert [a.json()["duplicate"] for a in answers] == [False] + [True] * 5
    # The limit (6/minute) counts for the host across both workers.
    assert _post(served, key, str(uuid.uuid4())).status_code == 429
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.exists(f"{served.prefix}:batch:1:{batch}") == 1
        assert any(client.scan_iter(match=f"LIMITS*{served.prefix}*", count=1000))
    finally:
        client.close()


def _keys_stay_out_of_the_access_log(served: Served, key: str) -> None:
    """InfluxDB 1.x clients send the key as `?p=` (issue 15.6): uvicorn's access log, in
    every worker, shows the request line with the credential replaced by ***."""
    for _ in range(4):  # new connections: both workers take some
        with httpx.Client() as c:
            c.post(f"{served.url}/write?db=telegraf&u=telegraf&p={key}", content=b"m f=1\n")
            c.get(f"{served.url}/query", params={"q": "SHOW DATABASES", "p": key, "u": "me"})
    deadline = time.monotonic() + 10
    while served.log().count("p=***") < 8 and time.monotonic() < deadline:
        time.sleep(0.1)
    log = served.log()
    assert key not in log
    assert key[3:15] not in log  # not even the key's public prefix
    assert log.count("/write?db=telegraf&u=***&p=***") == 4, log
    assert "telegraf&u=telegraf" not in log


def _one_worker_runs_the_rollups_and_another_takes_over(served: Served) -> None:
    deadline = time.monotonic() + 60
    while not LEADS.search(served.log()) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)  # several job intervals: the other worker must not lead meanwhile
    leaders = [int(p) for p in LEADS.findall(served.log())]
    assert len(leaders) == 1, served.log()
    assert leaders[0] in served.workers()
    os.kill(leaders[0], signal.SIGKILL)  # the lock dies with its holder
    deadline = time.monotonic() + 60
    while len(LEADS.findall(served.log())) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    leaders = [int(p) for p in LEADS.findall(served.log())]
    assert len(leaders) == 2, served.log()
    assert leaders[1] != leaders[0]


def test_rate_limits_follow_redis_unless_told_otherwise() -> None:
    assert Settings(redis_url="redis://r:6379/0").rate_limit_storage_url == "redis://r:6379/0"
    assert Settings().rate_limit_storage_url == "memory://"
    own = Settings(redis_url="redis://r/0", rate_limit_storage_url="redis://other/1")
    assert own.rate_limit_storage_url == "redis://other/1"
