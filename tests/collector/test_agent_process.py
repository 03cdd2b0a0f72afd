"""The real `fleetmon-agent` process: kill -9, SIGTERM, once, enroll, spool, startup errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fleetmon_agent.spool.files import QUARANTINE
from tests.support.receiver import Receiver, point_key, wait_until

ENROLL = "/api/v1/hosts/enroll"
COLLECT = "/api/v1/metrics/collect"
FAST = {
    name: {"interval": 1}
    for name in (
        "cpu",
        "system",
        "mem",
        "swap",
        "kernel",
        "disk",
        "diskio",
        "net",
        "netstat",
        "processes",
        "procstat",
        "sensors",
        "agent",
    )
}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETMON_")}
    env.update(extra)
    return env


def write_config(tmp_path: Path, url: str, api_key: str | None = "k", **batch: Any) -> Path:
    server: dict[str, Any] = {"url": url, "retry_initial": 0.05, "retry_max": 0.3, "timeout": 2}
    if api_key is not None:
        server["api_key"] = api_key
    doc = {
        "server": server,
        "spool": {"dir": str(tmp_path / "spool")},
        "batch": {"flush_interval": 0.2, **batch},
        "collectors": FAST,
    }
    path = tmp_path / "agent.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


def start(config: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleetmon_agent", "-c", str(config), *args],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def spooled_points(spool: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in sorted(os.listdir(spool)):
        if name.endswith(".json") and not name.startswith("."):
            out.extend(json.loads((spool / name).read_text())["points"])
    return out


def spool_files(spool: Path) -> int:
    return len([n for n in os.listdir(spool) if n.endswith(".json") and not n.startswith(".")])


def test_kill_9_during_heavy_spooling_loses_and_duplicates_nothing(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    config = write_config(tmp_path, dead_url(), max_points=5)  # a spool write every 5 points
    agent = start(config, "run")
    procs.append(agent)
    spool = tmp_path / "spool"
    assert wait_until(lambda: spool.exists() and spool_files(spool) > 40, timeout=20)
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    before = spooled_points(spool)  # what was durable when the process died
    assert len(before) > 200
    receiver = Receiver(status=202).start()
    try:
        config = write_config(tmp_path, receiver.url, max_points=5)
        again = start(config, "run")
        procs.append(again)
        want = {point_key(p) for p in before}
        assert wait_until(
            lambda: want <= {point_key(p) for p in receiver.accepted_points()}, timeout=30
        ), "spooled points were lost"
        again.send_signal(signal.SIGTERM)
        assert again.wait(5) == 0
        keys = [point_key(p) for p in receiver.accepted_points()]
        assert len(keys) == len(set(keys)), "a point arrived twice under different batch ids"
        assert not os.listdir(spool / QUARANTINE)
    finally:
        receiver.stop()


def test_sigterm_spools_the_in_memory_batch_and_exits_quickly(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    config = write_config(tmp_path, dead_url(), flush_interval=3600)  # never flushes by time
    agent = start(config, "run")
    procs.append(agent)
    assert agent.stderr is not None
    assert b"sending to" in agent.stderr.readline()
    time.sleep(1.5)
    spool = tmp_path / "spool"
    assert spool_files(spool) == 0
    t0 = time.monotonic()
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(5) == 0
    assert time.monotonic() - t0 < 5
    points = spooled_points(spool)
    assert {"cpu", "mem", "procstat"} <= {p["measurement"] for p in points}


def test_once_prints_a_full_batch_and_sends_nothing(tmp_path: Path, receiver: Receiver) -> None:
    config = write_config(tmp_path, receiver.url)
    out = subprocess.run(
        [sys.executable, "-m", "fleetmon_agent", "-c", str(config), "once"],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    body = json.loads(out.stdout)
    assert set(body) == {"batch_id", "agent", "points"}
    measurements = {p["measurement"] for p in body["points"]}
    assert {
        "cpu",
        "system",
        "mem",
        "swap",
        "disk",
        "diskio",
        "net",
        "netstat",
        "processes",
        "procstat",
        "fleetmon_agent",
    } <= measurements
    assert all(set(p) == {"measurement", "time", "tags", "fields"} for p in body["points"])
    time.sleep(0.2)
    assert receiver.requests == []


def test_enroll_stores_the_key_0600_and_run_uses_it(
    tmp_path: Path, receiver: Receiver, procs: list[subprocess.Popen[bytes]]
) -> None:
    receiver.fixed[ENROLL] = (201, {"host_id": 7, "host": "web-1", "api_key": "key-from-server"})
    config = write_config(tmp_path, receiver.url, api_key=None)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "fleetmon_agent",
            "-c",
            str(config),
            "enroll",
            "--server",
            receiver.url,
            "--token",
            "tok-1",
            "--name",
            "web-1",
            "--label",
            "env=prod",
            "--label",
            "role=db",
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert [r.json() for r in receiver.received(ENROLL)] == [
        {"token": "tok-1", "name": "web-1", "labels": {"env": "prod", "role": "db"}}
    ]
    state_file = tmp_path / "state.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert json.loads(state_file.read_text())["api_key"] == "key-from-server"
    assert "key-from-server" not in out.stdout + out.stderr
    assert "web-1" in out.stdout
    agent = start(config, "run")
    procs.append(agent)
    assert wait_until(lambda: len(receiver.received(COLLECT)) > 0, timeout=10)
    agent.send_signal(signal.SIGTERM)
    agent.wait(5)
    assert receiver.received(COLLECT)[0].headers["Authorization"] == "Bearer key-from-server"
    assert agent.stderr is not None
    assert b"key-from-server" not in agent.stderr.read()


def test_enroll_refused_is_reported(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fleetmon_agent", "enroll", "--server", dead_url(), "--token", "t"],
        env=clean_env(FLEETMON_SPOOL_DIR=str(tmp_path / "spool")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1
    assert out.stderr.startswith("enroll failed: cannot reach http://127.0.0.1:")


def test_spool_command_reports_status(tmp_path: Path) -> None:
    from fleetmon_agent.spool import FileSpool

    FileSpool(str(tmp_path / "spool")).add(
        [{"measurement": "m", "time": 1.0, "tags": {}, "fields": {"v": 1}}]
    )
    out = subprocess.run(
        [sys.executable, "-m", "fleetmon_agent", "spool"],
        env=clean_env(FLEETMON_SPOOL_DIR=str(tmp_path / "spool")),
        capture_output=True,
        text=True,
        check=True,
    )
    status = json.loads(out.stdout)
    assert (status["files"], status["points"], status["quarantined_files"]) == (1, 1, 0)


def test_startup_errors_are_clear(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        (
            {
                "FLEETMON_SERVER_URL": "http://127.0.0.1:9",
                "FLEETMON_SERVER_API_KEY": "k",
                "FLEETMON_SPOOL_DIR": str(blocker / "spool"),
            },
            f"startup error: spool.dir '{blocker}/spool' is not writable (Not a directory); "
            "create it for the agent's user or point spool.dir (FLEETMON_SPOOL_DIR) elsewhere",
        ),
        (
            {"FLEETMON_SPOOL_DIR": str(tmp_path / "s")},
            "config error: server.url = '': must be set (or FLEETMON_SERVER_URL)",
        ),
        (
            {
                "FLEETMON_SERVER_URL": "http://127.0.0.1:9",
                "FLEETMON_SPOOL_DIR": str(tmp_path / "s"),
            },
            "no API key: set server.api_key (FLEETMON_SERVER_API_KEY) or run `fleetmon-agent "
            f"enroll` (state file {tmp_path}/state.json)",
        ),
    ]
    for env, message in cases:
        out = subprocess.run(
            [sys.executable, "-m", "fleetmon_agent", "run"],
            env=clean_env(**env),
            capture_output=True,
            text=True,
            check=False,
            timeout=20,
        )
        assert out.returncode == 2
        assert out.stderr.strip().splitlines()[-1] == message
