"""Soak: a fleet for half an hour; the RSS of the API, the alert worker and a real agent.

`python -m bench soak` (defaults: 500 hosts x 5 s for 30 minutes, 5 minutes of warm-up)
starts the fleet rig of `bench fleet` (influxd, PostgreSQL, `fleetmon serve`), the alert
worker (`fleetmon-alerts run`, evaluating the default rules over the whole fleet) and one
real agent (`fleetmon-agent run`, its default collectors every 5 s, with a key of its own),
runs the simulated fleet through the API, and samples each process's RSS every
`--sample` seconds. A process passes when its RSS at the end is within 5 % of its RSS at the
end of the warm-up (issue 11). Also reported: the fleet's latency and exact accounting.

Options: --hosts N --interval S --minutes M --warmup M --sample S --docs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from bench.fleet import BIN, STORE_DB, Rig, agent_template, descendants, run_phase
from bench.fleetclient import api_target
from bench.report import table, write_section
from tests.support.agent import agent_env
from tests.support.servers import stop_process

GROWTH_LIMIT = 0.05
HEADERS = ["process", "RSS after warm-up MB", "RSS at the end MB", "max MB", "growth", ""]


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes together, MB (a process gone counts 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total / 1024


class Sampler(threading.Thread):
    """RSS of each process group every `every_s` seconds, with the time since the start."""

    def __init__(self, groups: dict[str, list[int]], every_s: float) -> None:
        super().__init__(name="soak-rss", daemon=True)
        self.groups, self.every_s = groups, every_s
        self.samples: dict[str, list[tuple[float, float]]] = {g: [] for g in groups}
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while True:
            t = time.monotonic() - self.t0
            for group, pids in self.groups.items():
                self.samples[group].append((t, rss_mb(pids)))
            if self.stop.wait(self.every_s):
                return

    def row(self, group: str, warmup_s: float) -> list[object]:
        series = self.samples[group]
        after = [mb for t, mb in series if t >= warmup_s]
        base, end = after[0], series[-1][1]
        growth = (end - base) / base if base else 0.0
        verdict = "met" if growth <= GROWTH_LIMIT else "MISSED"
        if "reference" in group:
            verdict = "-"
        return [group, f"{base:.1f}", f"{end:.1f}", f"{max(mb for _, mb in series):.1f}",
                f"{growth * 100:+.1f} %", verdict]  # fmt: skip

    def timeline(self, every_s: float = 300.0) -> str:
        """RSS of every process at every `every_s` of the run (where a plateau begins)."""
        marks = sorted({int(t // every_s) for t, _ in next(iter(self.samples.values()))})
        rows = []
        for m in marks:
            row: list[object] = [f"{m * every_s / 60:g} min"]
            for series in self.samples.values():
                row.append(f"{next(mb for t, mb in series if int(t // every_s) == m):.1f}")
            rows.append(row)
        return table(["time", *(f"{g} MB" for g in self.samples)], rows)


def spawn(
    stack: ExitStack, program: str, env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """`program run` in its own session, its output in `log_path`, stopped with the stack."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(BIN / program), "run"], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    stack.callback(stop_process, proc)
    return proc


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench soak")
    ap.add_argument("--hosts", type=int, default=500)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=5.0, help="minutes before the baseline")
    ap.add_argument("--sample", type=float, default=30.0, help="seconds between RSS samples")
    ap.add_argument("--docs", action="store_true", help="write docs/benchmarks.md's section")
    args = ap.parse_args(argv)
    template = agent_template()
    load_before = os.getloadavg()
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="fleetmon-bench-soak-"))
        stack.callback(shutil.rmtree, tmp, True)
        # One host more than the fleet: the real agent's.
        rig = Rig(stack, tmp, args.hosts + 1, 1, 60.0)
        worker_env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETMON_")}
        worker_env |= {
            "FLEETMON_DATABASE_URL": rig.db_url,
            "FLEETMON_STORE_URL": f"{rig.influx.url}/{STORE_DB}",
            "FLEETMON_DATA_DIR": str(tmp / "worker"),
            "FLEETMON_PUBLIC_URL": rig.url,
        }
        worker = spawn(stack, "fleetmon-alerts", worker_env, tmp / "worker.log")
        env = agent_env(
            FLEETMON_SERVER_URL=rig.url,
            FLEETMON_SERVER_API_KEY=rig.keys[args.hosts],
            FLEETMON_SPOOL_DIR=str(tmp / "agent" / "spool"),
        )
        agent = spawn(stack, "fleetmon-agent", env, tmp / "agent.log")
        sampler = Sampler(
            {
                "API (fleetmon serve)": descendants(rig.proc.pid),
                "alert worker (fleetmon-alerts run)": [worker.pid],
                "agent (fleetmon-agent run)": [agent.pid],
                "influxd (for reference)": [rig.influx.proc.pid],
            },
            args.sample,
        )
        sampler.start()
        api = api_target(rig.port, rig.keys[: args.hosts])
        phase = run_phase(
            rig, "agent JSON through the API (soak)", api, STORE_DB, "raw", template,
            args.hosts, args.interval, args.minutes * 60, ("api", "influxd", "postgres", "client"),
        )  # fmt: skip
        sampler.stop.set()
        sampler.join()
        alive = {"worker": worker.poll() is None, "agent": agent.poll() is None}
    rows = [sampler.row(g, args.warmup * 60) for g in sampler.groups]
    result = table(HEADERS, rows) + "\n\nRSS over the run:\n\n" + sampler.timeline()
    print(result)
    print(f"processes alive at the end: {alive}")
    if args.docs:
        command = (
            f"uv run python -m bench soak --hosts {args.hosts} --interval {args.interval:g} "
            f"--minutes {args.minutes:g} --warmup {args.warmup:g}"
        )
        fleet_row = [
            f"{args.hosts:,} x {args.interval:g} s", *phase.row()[3:5],
            f"{phase.stored_points:,} / {phase.accepted_points:,}",
            f"{sum(phase.missing.values()):,}",
        ]  # fmt: skip
        body = (
            f"Load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; RSS "
            f"sampled every {args.sample:g} s, baseline {args.warmup:g} min after the start.\n\n"
            + table(
                ["fleet", "p50 ms", "p99 ms", "points stored / accepted", "lost points"],
                [fleet_row],
            )
            + "\n\n"
            + result
            + f"\n\nProcesses alive at the end: {alive}.\n"
        )
        write_section("soak", "Soak: RSS of API, alert worker and agent", command, body)
    return 0 if all(r[-1] == "met" for r in rows[:3]) and all(alive.values()) else 1
