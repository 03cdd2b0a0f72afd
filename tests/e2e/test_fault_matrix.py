"""The fault matrix: every point the agent generates is stored once or counted as dropped.

The agent runs in-process (its clock injected) with a collector that records every point it
generates before the point enters a batch; the API (`fleetmon serve`) and influxd are real
processes, stopped, killed and restarted by the scenarios. Accounting is checked in the
store itself, per host: stored + dropped (by reason, from the agent's counters) equals
generated, nothing stored twice, nothing stored that was not generated.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from fleetmon_agent.agent import Agent, Running
from fleetmon_agent.config import Config, build
from fleetmon_agent.enroll import enroll
from fleetmon_agent.online import check_online
from fleetmon_agent.points import Point
from fleetmon_agent.sender import Delivery, Sender
from fleetmon_agent.spool import FileSpool
from fleetmon_agent.state import read_state
from tests.conftest import server_missing
from tests.support.agent import agent_env
from tests.support.servers import (
    SERVER_START_S,
    InfluxServer,
    ServerMissing,
    free_port,
    start_influxd,
    stop_process,
    wait_http,
)

BIN = Path(sys.executable).parent
COLLECT = "/api/v1/metrics/collect"


class Api:
    """`fleetmon serve` on a fixed port over a real influxd; stop, kill and start again."""

    def __init__(self, data: Path, store_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(
            os.environ,
            FLEETMON_DATA_DIR=str(data),
            FLEETMON_STORE_URL=store_url,
            FLEETMON_SECRET_KEY=secrets.token_hex(32),
            FLEETMON_INGEST_RATE_LIMIT="100000/minute",  # the scenarios flush every 0.2 s
        )
        self.log = data / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        return subprocess.run(
            [str(BIN / "fleetmon"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [str(BIN / "fleetmon"), "serve", "--port", str(self.port)],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_http(f"{self.url}/health", timeout=SERVER_START_S, proc=self.proc)
        except BaseException:
            self.stop()
            raise

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(15)
        self.proc = None


class Influx:
    """influxd with a fixed config (ports, data dir): stopped and started again as is."""

    def __init__(self, server: InfluxServer) -> None:
        self.server = server
        self.url = server.url

    def stop(self) -> None:
        stop_process(self.server.proc)

    def start(self) -> None:
        binary = shutil.which("influxd")
        assert binary is not None
        with (self.server.root / "influxd.log").open("ab") as log:
            self.server.proc = subprocess.Popen(
                [binary, "-config", str(self.server.root / "influxdb.conf")],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_http(f"{self.url}/ping", proc=self.server.proc)

    def values(self, db: str, host: str) -> list[int]:
        """Every stored `seq.n` of the host, one per stored point."""
        literal = host.replace("\\", "\\\\").replace("'", "\\'")
        q = f'SELECT "n" FROM "seq" WHERE "host" = \'{literal}\''  # noqa: S608 - escaped
        r = httpx.get(f"{self.url}/query", params={"db": db, "q": q}, timeout=30)
        r.raise_for_status()
        series = r.json()["results"][0].get("series", [])
        return [int(row[1]) for s in series for row in s["values"]]


class Stack:
    """One API and one influxd for the whole file; each scenario enrolls its own host."""

    def __init__(self, root: Path) -> None:
        (root / "influxd").mkdir()
        try:
            self.influx = Influx(start_influxd(root / "influxd"))
        except ServerMissing as exc:
            server_missing(exc)
        self.db = "fleet"
        data = root / "api"
        data.mkdir()
        self.api = Api(data, f"{self.influx.url}/{self.db}")
        self.api.cli("migrate")
        # One token for every host the scenarios enroll (a CLI run costs seconds).
        self.token = self.api.cli("create-enroll-token", "--uses", "100")
        self.api.start()

    def enroll(self, tmp_path: Path) -> tuple[str, str]:
        """(host name, api key) of a freshly enrolled host."""
        name = f"fm-{uuid.uuid4().hex[:8]}"
        state = tmp_path / f"{name}.json"
        enroll(self.api.url, self.token, str(state), name)
        return name, str(read_state(str(state))["api_key"])

    def close(self) -> None:
        self.api.stop()
        self.influx.server.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("faults"))
    yield s
    s.close()


class Recorder:
    """`per_tick` numbered points per run, each recorded before it enters a batch."""

    def __init__(self, per_tick: int = 5) -> None:
        self.per_tick = per_tick
        self.n = 0
        self.generated: list[int] = []
        self.lock = threading.Lock()

    def collect(self, now: float) -> list[Point]:
        return self.make(self.per_tick, now)

    def make(self, count: int, now: float) -> list[Point]:
        """`count` new points from `now` on."""
        out = []
        with self.lock:
            for i in range(count):
                self.n += 1
                self.generated.append(self.n)
                # 1 ms apart: distinct timestamps, as the store keeps one point per instant.
                out.append(Point("seq", now + i * 0.001, {}, {"n": self.n}))
        return out


def wire(points: list[Point]) -> list[dict[str, Any]]:
    """Points as the spool keeps them."""
    return [cast("dict[str, Any]", p.to_wire()) for p in points]


def config(spool: Path, url: str, **spool_opts: Any) -> Config:
    raw: dict[str, Any] = {
        "server": {"url": url, "retry_initial": 0.5, "retry_max": 60, "timeout": 5},
        "spool": {"dir": str(spool), **spool_opts},
        "batch": {"flush_interval": 0.2},
    }
    return build(raw, {}, "<fault matrix>")


class Run:
    """One agent (in-process) for one host, with its recorder; `finish` drains and counts."""

    def __init__(
        self,
        stack: Stack,
        tmp_path: Path,
        clock: Callable[[], float] = time.time,
        url: str | None = None,
        key: str | None = None,
        per_tick: int = 5,
        recorder: Recorder | None = None,
        **spool_opts: Any,
    ) -> None:
        self.stack = stack
        self.host, self.key = stack.enroll(tmp_path)
        self.spool_dir = tmp_path / "spool"
        self.clock = clock
        self.recorder = recorder or Recorder(per_tick)
        self.config = config(self.spool_dir, url or stack.api.url, **spool_opts)
        self.agent = Agent(
            self.config,
            key or self.key,
            collectors=[Running("seq", 0.1, self.recorder)],
            clock=clock,
        )
        self.agent.delivery.probe_interval = 0.5  # CI-short; 2 s by default
        self.thread = threading.Thread(
            target=self.agent.run, kwargs={"install_signals": False}, daemon=True
        )

    def start(self) -> Run:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.agent.request_stop()
        self.thread.join(15)
        assert not self.thread.is_alive()

    def stored(self) -> list[int]:
        return self.stack.influx.values(self.stack.db, self.host)

    def settle(self, key: str | None = None, url: str | None = None) -> FileSpool:
        """Stop the agent, deliver what is left in its spool; the spool (and its counters)."""
        self.stop()
        spool = FileSpool(str(self.spool_dir), clock=self.clock)
        sender = Sender(url or self.stack.api.url, key or self.key, 5.0, clock=self.clock)
        d = Delivery(spool, sender, threading.Event(), threading.Event(), retry_initial=0.2)
        deadline = time.monotonic() + 30
        while spool.stats()[0] and time.monotonic() < deadline:
            d.drain_once()
        assert spool.stats()[0] == 0, "the spool did not drain"
        return spool

    def check_accounting(self, spool: FileSpool, not_generated: int = 0) -> dict[str, int]:
        """Stored once or dropped with a reason, every generated point; the drops.

        `not_generated`: points counted as dropped that the agent never generated (spool
        files whose names claim points that cannot be read)."""
        stored = self.stored()
        assert len(stored) == len(set(stored)), "a point was stored twice"
        assert set(stored) <= set(self.recorder.generated), "stored what was never generated"
        dropped, _ = spool.ledger.snapshot()
        accounted = len(stored) + sum(dropped.values()) - not_generated
        assert accounted == len(self.recorder.generated), (
            len(stored),
            dropped,
            len(self.recorder.generated),
        )
        return dropped


def wait_for(cond: Callable[[], bool], timeout: float, step: float = 0.1) -> float:
    """Seconds until `cond` held (fails after `timeout`)."""
    started = time.monotonic()
    while not cond():
        assert time.monotonic() - started < timeout, "condition not met in time"
        time.sleep(step)
    return time.monotonic() - started


def spool_files(run: Run) -> int:
    return len([n for n in os.listdir(run.spool_dir) if n.endswith(".json") and "-" in n])


# --- scenarios ----------------------------------------------------------------------------


def test_api_stopped_then_killed_recovers_within_seconds_and_loses_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    run = Run(stack, tmp_path).start()
    wait_for(lambda: len(run.stored()) > 0, 20)
    # Stopped: the backlog grows in the spool while the agent backs off (up to 60 s).
    stack.api.stop(signal.SIGTERM)
    time.sleep(3)
    assert spool_files(run) > 1
    stack.api.start()
    recovered = wait_for(lambda: spool_files(run) <= 1, 15)
    print(f"backlog delivered {recovered:.2f}s after the API answered again")
    assert recovered < 4, f"backlog delivery started {recovered:.1f}s after the API was back"
    # Killed: no graceful answer for what was in flight.
    stack.api.stop(signal.SIGKILL)
    time.sleep(2)
    stack.api.start()
    wait_for(lambda: spool_files(run) <= 1, 15)
    spool = run.settle()
    assert run.check_accounting(spool) == {}


def test_influxd_stopped_then_back(stack: Stack, tmp_path: Path) -> None:
    run = Run(stack, tmp_path).start()
    wait_for(lambda: len(run.stored()) > 0, 20)
    stack.influx.stop()  # the API answers 503 and the agent keeps everything
    time.sleep(2)
    stack.influx.start()
    wait_for(lambda: spool_files(run) <= 1, 20)
    spool = run.settle()
    assert run.check_accounting(spool) == {}


def test_spool_over_its_cap_drops_oldest_counted(stack: Stack, tmp_path: Path) -> None:
    # Nothing listens at this URL: all of it piles up in a spool of 10 kB.
    dead = f"http://127.0.0.1:{free_port()}"
    run = Run(stack, tmp_path, url=dead, per_tick=20, max_bytes="10kB").start()
    wait_for(lambda: run.agent.spool.ledger.total > 200, 20)
    spool = run.settle()  # ... delivered to the real API afterwards
    dropped = run.check_accounting(spool)
    assert set(dropped) == {"spool_full"}
    assert len(run.stored()) > 0


def test_spool_contents_corrupt_invalid_and_duplicated(stack: Stack, tmp_path: Path) -> None:
    """Left in the spool by earlier runs: unreadable files, a merged replay with invalid
    points, one batch spooled twice under the same id; then the agent runs."""
    spool_dir = tmp_path / "spool"
    recorder = Recorder()
    seed = FileSpool(str(spool_dir))
    for f in range(9):  # nine batches of 40 points, merged into one request on replay
        points = wire(recorder.make(40, time.time() - 60 + f))
        if f == 3:
            points[17]["fields"]["n"] = float("nan")
        if f == 6:
            points[5]["tags"] = {"bad key": "x"}
        seed.add(points)
    # A batch whose acknowledgement was lost, sent again under its id (sealed: never merged).
    twice = wire(recorder.make(5, time.time() - 30))
    bid = seed.add(twice)
    seed.close()
    (name,) = [n for n in os.listdir(spool_dir) if bid in n]
    sealed = name.replace("-n-", "-s-")
    os.rename(spool_dir / name, spool_dir / sealed)
    shutil.copy(spool_dir / sealed, spool_dir / f"{int(sealed[:20]) + 1:020d}{sealed[20:]}")
    # Unreadable, claiming 7 + 3 + 4 points that were never generated.
    now_ns = time.time_ns() - 5 * 10**9
    (spool_dir / f"{now_ns:020d}-n-7-{uuid.uuid4()}.json").write_text("[" * 200_000)
    (spool_dir / f"{now_ns + 1:020d}-n-3-{uuid.uuid4()}.json").write_text("")
    (spool_dir / f"{now_ns + 2:020d}-m-4-{uuid.uuid4()}.json").mkdir()

    run = Run(stack, tmp_path, recorder=recorder).start()
    time.sleep(2)
    spool = run.settle()
    assert run.check_accounting(spool, not_generated=14) == {"unreadable": 14, "rejected": 2}
    assert spool.ledger.quarantined_files == 3 + 2
    assert {p["fields"]["n"] for p in twice} <= set(run.stored())


@pytest.mark.parametrize("skew", [15 * 60.0, -8 * 86400.0], ids=["15min-ahead", "8days-behind"])
def test_skewed_agent_clock_loses_nothing(stack: Stack, tmp_path: Path, skew: float) -> None:
    def clock() -> float:
        return time.time() + skew

    run = Run(stack, tmp_path, clock=clock).start()
    wait_for(lambda: len(run.stored()) >= 20, 20)
    spool = run.settle()
    assert run.check_accounting(spool) == {}
    assert abs(run.agent.sender.clock_offset + skew) < 2.0


@pytest.mark.parametrize("mistake", ["wrong-key", "wrong-path"])
def test_configuration_mistakes_keep_the_data(stack: Stack, tmp_path: Path, mistake: str) -> None:
    if mistake == "wrong-key":
        run = Run(stack, tmp_path, key="not-the-key")
    else:
        run = Run(stack, tmp_path, url=stack.api.url + "/fleetmon")
    run.start()
    time.sleep(2)
    assert run.stored() == []
    assert not list((run.spool_dir / "quarantine").glob("*.json"))
    # The operator fixes the configuration; everything collected meanwhile arrives.
    spool = run.settle(key=run.key, url=stack.api.url)
    assert run.check_accounting(spool) == {}


def test_check_config_online_names_what_is_wrong(stack: Stack, tmp_path: Path) -> None:
    _, key = stack.enroll(tmp_path)
    env = agent_env(
        FLEETMON_SERVER_URL=stack.api.url,
        FLEETMON_SERVER_API_KEY=key,
        FLEETMON_SPOOL_DIR=str(tmp_path / "spool"),
    )
    p = subprocess.run(
        [str(BIN / "fleetmon-agent"), "check-config", "--online"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "server: OK" in p.stdout
    assert "clock: OK" in p.stdout
    assert "api key: OK" in p.stdout

    def check(url: str, api_key: str) -> tuple[int, str]:
        lines: list[str] = []
        rc = check_online(config(tmp_path / "spool", url), api_key, lines.append)
        return rc, "\n".join(lines)

    rc, out = check(stack.api.url, "wrong")
    assert rc == 1
    assert "api key: FAILED: HTTP 401: the server rejected the API key" in out
    rc, out = check(stack.api.url + "/nope", key)
    assert rc == 1
    assert "no fleetmon API at this URL" in out
    rc, out = check(f"http://127.0.0.1:{free_port()}", key)
    assert rc == 1
    assert "connection refused" in out
