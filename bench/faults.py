"""The fault matrix at full length: every generated point stored once or counted as dropped.

The same machinery as tests/e2e/test_fault_matrix.py (tests/support/faults.py: a real
`fleetmon serve` over a real influxd, the agent in-process with every generated point
recorded), with the durations of issue 12: API stopped 3 minutes, API SIGKILLed five
times, influxd stopped 2 minutes, the spool over its cap, the clock 15 minutes ahead and
8 days behind. `--scale F` multiplies every duration (0.1 for a quick look).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import table, write_section
from tests.support.faults import Run, Stack, spool_files, wait_for
from tests.support.servers import free_port

PROBE = 2.0  # the agent's default probe interval


def _down_then_up(
    stack: Stack, tmp: Path, down: float, stop: Callable[[], None], start: Callable[[], None]
) -> tuple[Run, float]:
    run = Run(stack, tmp, probe_interval=PROBE).start()
    wait_for(lambda: len(run.stored()) > 0, 60)
    stop()
    time.sleep(down)
    start()
    recovered = wait_for(lambda: spool_files(run) <= 1, 120)
    return run, recovered


def api_stopped(stack: Stack, tmp: Path, scale: float) -> tuple[Run, str]:
    run, recovered = _down_then_up(
        stack, tmp, 180 * scale, lambda: stack.api.stop(signal.SIGTERM), stack.api.start
    )
    return run, f"{recovered:.1f} s"


def api_killed(stack: Stack, tmp: Path, scale: float) -> tuple[Run, str]:
    run = Run(stack, tmp, probe_interval=PROBE).start()
    wait_for(lambda: len(run.stored()) > 0, 60)
    worst = 0.0
    for _ in range(5):
        time.sleep(20 * scale)
        stack.api.stop(signal.SIGKILL)
        time.sleep(5 * scale)
        stack.api.start()
        worst = max(worst, wait_for(lambda: spool_files(run) <= 1, 120))
    return run, f"{worst:.1f} s (worst of 5)"


def influxd_stopped(stack: Stack, tmp: Path, scale: float) -> tuple[Run, str]:
    run, recovered = _down_then_up(stack, tmp, 120 * scale, stack.influx.stop, stack.influx.start)
    return run, f"{recovered:.1f} s"


def spool_over_cap(stack: Stack, tmp: Path, scale: float) -> tuple[Run, str]:
    dead = f"http://127.0.0.1:{free_port()}"
    run = Run(stack, tmp, url=dead, per_tick=20, max_bytes="100kB", probe_interval=PROBE).start()
    time.sleep(60 * scale)
    return run, "-"


def _skewed(skew: float) -> Callable[[Stack, Path, float], tuple[Run, str]]:
    def scenario(stack: Stack, tmp: Path, scale: float) -> tuple[Run, str]:
        run = Run(stack, tmp, clock=lambda: time.time() + skew, probe_interval=PROBE).start()
        time.sleep(60 * scale)
        return run, f"offset {run.agent.sender.clock_offset:+.1f} s"

    return scenario


SCENARIOS: dict[str, Callable[[Stack, Path, float], tuple[Run, str]]] = {
    "API stopped 180 s": api_stopped,
    "API SIGKILL x5 (5 s down each)": api_killed,
    "influxd stopped 120 s": influxd_stopped,
    "spool over its cap (100 kB, API unreachable 60 s)": spool_over_cap,
    "agent clock +15 min": _skewed(15 * 60.0),
    "agent clock -8 days": _skewed(-8 * 86400.0),
}


def main(argv: list[str]) -> int:
    """Run every scenario; rewrite the `faults` section of docs/benchmarks.md."""
    p = argparse.ArgumentParser(prog="python -m bench faults")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every duration")
    args = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="fleetmon-faults-"))
    stack = Stack(root)
    rows: list[list[Any]] = []
    exact = True
    try:
        for i, (name, scenario) in enumerate(SCENARIOS.items()):
            tmp = root / f"s{i}"
            tmp.mkdir()
            run, note = scenario(stack, tmp, args.scale)
            got = run.accounting(run.settle())
            dropped = sum(got["dropped"].values())
            ok = (
                got["stored"] == got["stored_distinct"]
                and got["foreign"] == 0
                and got["stored"] + dropped == got["generated"]
            )
            exact = exact and ok
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(got["dropped"].items())) or "-"
            rows.append(
                [name, got["generated"], got["stored"], reasons, "yes" if ok else "NO", note]
            )
            print(rows[-1], flush=True)
    finally:
        stack.close()
        shutil.rmtree(root, ignore_errors=True)
    headers = ["scenario", "generated", "stored", "dropped (reason)", "exact", "recovery / note"]
    body = (
        "Each scenario enrolls its own host; the agent collects 50 points/s, flushes every "
        "0.2 s, backs off up to 60 s and probes `/health` every 2 s (its default) while "
        "backing off. "
        "*Exact*: every generated point is stored once or counted as dropped, nothing else "
        "stored. *Recovery*: from the server being back until the backlog was delivered "
        f"(scale {args.scale:g}). Load average (1/5/15 min) at the end: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
        + ".\n\n"
        + table(headers, rows)
    )
    write_section(
        "faults",
        "Fault matrix at full length (issue 12)",
        "python -m bench faults",
        body,
    )
    print(body)
    return 0 if exact else 1
