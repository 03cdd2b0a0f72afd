"""The fault matrix: every point the agent generates is stored once or counted as dropped.

The agent runs in-process (its clock injected) with a collector that records every point it
generates before the point enters a batch; the API (`fleetmon serve`) and influxd are real
processes, stopped, killed and restarted by the scenarios. Accounting is checked in the
store itself, per host: stored + dropped (by reason, from the agent's counters) equals
generated, nothing stored twice, nothing stored that was not generated. The machinery is in
tests/support/faults.py; `python -m bench faults` runs the long versions.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetmon_agent.online import check_online
from fleetmon_agent.spool import FileSpool
from tests.conftest import server_missing
from tests.support.agent import agent_env
from tests.support.faults import BIN, Recorder, Run, Stack, config, spool_files, wait_for, wire
from tests.support.servers import ServerMissing, free_port


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    try:
        s = Stack(tmp_path_factory.mktemp("faults"))
    except ServerMissing as exc:
        server_missing(exc)
    yield s
    s.close()


# --- scenarios ----------------------------------------------------------------------------


def test_api_stopped_then_killed_recovers_within_seconds_and_loses_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    run = Run(stack, tmp_path).start()
    wait_for(lambda: len(run.stored()) > 0, 20)
    # Stopped: the backlog grows in the spool while the agent backs off (up to 60 s).
    stack.api.stop(signal.SIGTERM)
    time.sleep(2)
    assert spool_files(run) > 1
    stack.api.start()
    recovered = wait_for(lambda: spool_files(run) <= 1, 15)
    print(f"backlog delivered {recovered:.2f}s after the API answered again")
    assert recovered < 4, f"backlog delivery started {recovered:.1f}s after the API was back"
    # Killed: no graceful answer for what was in flight.
    stack.api.stop(signal.SIGKILL)
    time.sleep(1)
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
