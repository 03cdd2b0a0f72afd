"""SIGHUP (`systemctl reload`): the agent re-reads its configuration and keeps running, with
the spooled backlog delivered; a broken configuration keeps the running one. The enrollment
token can come from stdin."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.collector.test_agent_process import ENROLL, clean_env, start, write_config
from tests.support.receiver import Receiver, wait_until


def refuse_for_now(n: int, body: Any) -> tuple[int, dict[str, str]]:
    """A server that keeps asking to retry: the agent's backlog grows in its spool."""
    return 503, {"Retry-After": "0"}


def test_sighup_reloads_the_config_and_keeps_the_backlog(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    old, new = Receiver(responder=refuse_for_now).start(), Receiver(status=202).start()
    try:
        config = write_config(tmp_path, old.url)
        agent = start(config, "run")
        procs.append(agent)
        assert wait_until(lambda: len(old.requests) >= 3, timeout=20)
        refused = {
            p["time"] for r in old.received("/api/v1/metrics/collect") for p in r.json()["points"]
        }
        doc = json.loads(config.read_text())
        doc["server"]["url"] = new.url
        config.write_text(json.dumps(doc))

        agent.send_signal(signal.SIGHUP)
        # Everything the old server refused reaches the new one: the spool outlived the reload.
        assert wait_until(lambda: refused <= {p["time"] for p in new.accepted_points()}, timeout=20)
        assert agent.poll() is None, "SIGHUP stopped the agent"
        seen = len(new.requests)
        assert wait_until(lambda: len(new.requests) > seen, timeout=10)  # and it goes on

        agent.send_signal(signal.SIGTERM)
        assert agent.wait(10) == 0
        assert agent.stderr is not None
        assert b"reload: configuration re-read" in agent.stderr.read()
    finally:
        old.stop()
        new.stop()


def test_sighup_with_a_broken_config_keeps_the_running_one(
    tmp_path: Path, receiver: Receiver, procs: list[subprocess.Popen[bytes]]
) -> None:
    config = write_config(tmp_path, receiver.url)
    agent = start(config, "run")
    procs.append(agent)
    assert wait_until(lambda: len(receiver.requests) >= 1, timeout=20)
    config.write_text("server: [this is not a mapping")
    agent.send_signal(signal.SIGHUP)
    seen = len(receiver.requests)
    assert wait_until(lambda: len(receiver.requests) > seen + 1, timeout=20)
    assert agent.poll() is None
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(10) == 0
    assert agent.stderr is not None
    assert b"keeping the running configuration" in agent.stderr.read()


def test_enroll_reads_the_token_from_stdin(tmp_path: Path, receiver: Receiver) -> None:
    receiver.fixed[ENROLL] = (201, {"host_id": 3, "host": "web-2", "api_key": "key-2"})
    config = write_config(tmp_path, receiver.url, api_key=None)
    out = subprocess.run(
        [sys.executable, "-m", "fleetmon_agent", "-c", str(config), "enroll", "--token-stdin",
         "--name", "web-2"],
        env=clean_env(), input="tok-from-stdin\n", capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert [r.json() for r in receiver.received(ENROLL)] == [
        {"token": "tok-from-stdin", "name": "web-2", "labels": {}}
    ]
