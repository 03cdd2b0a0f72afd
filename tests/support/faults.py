"""The fault matrix's machinery: a real API over a real influxd, an in-process agent whose
every generated point is recorded, and the accounting of what reached the store.

Used by tests/e2e/test_fault_matrix.py (short scenarios) and bench/faults.py (long ones).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx

from fleetmon_agent.agent import Agent, Running
from fleetmon_agent.config import Config, build
from fleetmon_agent.enroll import enroll
from fleetmon_agent.points import Point
from fleetmon_agent.sender import Delivery, Sender
from fleetmon_agent.spool import FileSpool
from fleetmon_agent.state import read_state
from tests.support.servers import (
    SERVER_START_S,
    InfluxServer,
    free_port,
    start_influxd,
    stop_process,
    wait_http,
)

BIN = Path(sys.executable).parent
COLLECT = "/api/v1/metrics/collect"


class Api:
    """`fleetmon serve` on a fixed port, its data under one dir (and the store at `store_url`,
    else the embedded one there); stop, kill and start again."""

    def __init__(self, data: Path, store_url: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(
            os.environ,
            FLEETMON_DATA_DIR=str(data),
            FLEETMON_SECRET_KEY=secrets.token_hex(32),
            FLEETMON_INGEST_RATE_LIMIT="100000/minute",  # the scenarios flush every 0.2 s
            # Every scenario's agent is 127.0.0.1; the wrong-key ones must not lock out the rest.
            FLEETMON_AUTH_FAILURE_RATE_LIMIT="100000/minute",
        )
        if store_url is not None:
            self.env["FLEETMON_STORE_URL"] = store_url
        self.log = data / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str | None = None) -> str:
        return subprocess.run(
            [str(BIN / "fleetmon"), *args],
            env=self.env,
            input=stdin,
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
        self.influx = Influx(start_influxd(root / "influxd"))  # ServerMissing if absent
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
        # In-process, the limits would measure the whole test process: only log.
        "limits": {"action": "log", "rss_mb": 100000, "cpu_percent": 400},
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
        probe_interval: float = 0.5,  # CI-short; the agent's default is 2 s
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
        self.agent.delivery.probe_interval = probe_interval
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

    def accounting(self, spool: FileSpool) -> dict[str, Any]:
        """What happened to the generated points: stored (distinct, total), dropped."""
        stored = self.stored()
        dropped, quarantined = spool.ledger.snapshot()
        return {
            "generated": len(self.recorder.generated),
            "stored": len(stored),
            "stored_distinct": len(set(stored)),
            "foreign": len(set(stored) - set(self.recorder.generated)),
            "dropped": dropped,
            "quarantined_files": quarantined,
        }

    def check_accounting(self, spool: FileSpool, not_generated: int = 0) -> dict[str, int]:
        """Stored once or dropped with a reason, every generated point; the drops.

        `not_generated`: points counted as dropped that the agent never generated (spool
        files whose names claim points that cannot be read)."""
        got = self.accounting(spool)
        assert got["stored"] == got["stored_distinct"], "a point was stored twice"
        assert got["foreign"] == 0, "stored what was never generated"
        accounted = got["stored"] + sum(got["dropped"].values()) - not_generated
        assert accounted == got["generated"], got
        dropped: dict[str, int] = got["dropped"]
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
