"""Agent footprint vs Prometheus node_exporter, side by side, at default intervals.

Runs the real agent (pointed at a local receiver) and node_exporter (scraped every 5 s by
this script) for the same wall-clock span with 500 extra sleeping processes on the host,
then reports CPU seconds, peak RSS and the agent's per-collector p99 collection latency.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.report import table, write_section
from fleetmon_agent.collectors import REGISTRY

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
COLLECTOR = Path(__file__).resolve().parent.parent / "collector"
DEFAULT_SECONDS = 600.0
EXTRA_PROCESSES = 500
SCRAPE_EVERY = 5.0
WARMUP = 20.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    rest = text[text.rfind(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


class Sink:
    """Accepts agent batches; keeps the latest per-collector self-metrics."""

    def __init__(self) -> None:
        self.points = 0
        self.requests = 0
        self.latency: dict[str, dict[str, Any]] = {}
        # (arrival, collect_ms_last) per collector: what each self-metrics report saw.
        self.lasts: dict[str, list[tuple[float, float]]] = {}
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = json.loads(gzip.decompress(raw))
                sink.requests += 1
                sink.points += len(body["points"])
                for p in body["points"]:
                    if p["measurement"] == "fleetmon_agent" and "collector" in p["tags"]:
                        name = p["tags"]["collector"]
                        sink.latency[name] = p["fields"]
                        sink.lasts.setdefault(name, []).append(
                            (time.monotonic(), float(p["fields"]["collect_ms_last"]))
                        )
                self.send_response(202)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def agent_python(tmp: Path) -> tuple[str, str]:
    """An interpreter with only the agent installed, as on a server; or this one."""
    uv = shutil.which("uv")
    if uv is None:
        return sys.executable, "the workspace venv"
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run(
        # Byte-compiled like pip does by default: otherwise the first start pays for it.
        [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", python, str(COLLECTOR)],
        check=True,
    )
    return python, "a fresh venv holding only `pip install ./collector` (byte-compiled)"


def default_intervals() -> str:
    """The registry's default intervals, e.g. "cpu/system 5 s, disk 30 s"."""
    by_interval: dict[float, list[str]] = {}
    for spec in REGISTRY:
        by_interval.setdefault(spec.interval, []).append(spec.name)
    return ", ".join(f"{'/'.join(names)} {i:g} s" for i, names in sorted(by_interval.items()))


def agent_config(tmp: Path) -> Path:
    """The example config, as install.sh installs it (URL, key and spool come from the env)."""
    path = tmp / "agent.yaml"
    shutil.copyfile(COLLECTOR / "agent.example.yaml", path)
    return path


def main(argv: list[str]) -> int:
    """Run the comparison and write the `agent` section of docs/benchmarks.md."""
    seconds = float(os.environ.get("FLEETMON_BENCH_AGENT_SECONDS", DEFAULT_SECONDS))
    if not os.path.exists(NODE_EXPORTER):
        print(f"{NODE_EXPORTER} is missing (Debian package prometheus-node-exporter)")
        return 1
    sink = Sink()
    tmp = Path(tempfile.mkdtemp(prefix="fleetmon-bench-agent-"))
    sleepers: list[subprocess.Popen[bytes]] = []
    agent: subprocess.Popen[bytes] | None = None
    exporter: subprocess.Popen[bytes] | None = None
    try:
        python, python_note = agent_python(tmp)
        for _ in range(EXTRA_PROCESSES):
            sleepers.append(subprocess.Popen(["sleep", str(int(seconds) + 600)]))
        port = free_port()
        exporter = subprocess.Popen(
            [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Only the agent's settings: it refuses FLEETMON_* variables that set nothing
        # (FLEETMON_BENCH_AGENT_SECONDS is this script's).
        env = dict(
            {k: v for k, v in os.environ.items() if not k.startswith("FLEETMON_")},
            FLEETMON_SERVER_URL=sink.url,
            FLEETMON_SERVER_API_KEY="bench-key",
            FLEETMON_SPOOL_DIR=str(tmp / "spool"),
            MALLOC_ARENA_MAX="2",  # as collector/packaging/fleetmon-agent.service sets it
        )
        agent = subprocess.Popen(
            [python, "-m", "fleetmon_agent", "-c", str(agent_config(tmp)), "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp / "agent.log").open("wb"),
        )
        started = time.monotonic()
        scrapes = scrape_failures = 0
        scrape_url = f"http://127.0.0.1:{port}/metrics"
        warm: dict[str, float] = {}
        next_scrape = started + 1.0
        while time.monotonic() - started < seconds:
            if not warm and time.monotonic() - started >= WARMUP:
                warm = {"agent": cpu_seconds(agent.pid), "node": cpu_seconds(exporter.pid)}
            time.sleep(max(next_scrape - time.monotonic(), 0.0))
            next_scrape += SCRAPE_EVERY
            try:
                with urllib.request.urlopen(scrape_url, timeout=5) as resp:
                    resp.read()
                scrapes += 1
            except OSError:
                scrape_failures += 1
            if agent.poll() is not None:
                print("agent exited early; see", tmp / "agent.log")
                return 1
        elapsed = time.monotonic() - started
        load = os.getloadavg()
        cpu = {"agent": cpu_seconds(agent.pid), "node": cpu_seconds(exporter.pid)}
        rss = {"agent": peak_rss_mb(agent.pid), "node": peak_rss_mb(exporter.pid)}
        agent.send_signal(signal.SIGTERM)
        agent.wait(10)
    finally:
        for proc in [agent, exporter, *sleepers]:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        sink.server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)

    steady = {k: cpu[k] - warm.get(k, 0.0) for k in cpu}
    scans = sum(
        float(sink.latency.get(n, {}).get("collect_cpu_seconds", 0.0))
        for n in ("processes", "procstat")
    )
    rows: list[list[object]] = [
        [
            "fleetmon-agent",
            f"{cpu['agent']:.2f}",
            f"{steady['agent']:.2f}",
            f"{100 * cpu['agent'] / elapsed:.2f}",
            f"{rss['agent']:.1f}",
        ],
        [
            "fleetmon-agent without process scans (processes, procstat)",
            f"{cpu['agent'] - scans:.2f}",
            "",
            f"{100 * (cpu['agent'] - scans) / elapsed:.2f}",
            "",
        ],
        [
            "node_exporter",
            f"{cpu['node']:.2f}",
            f"{steady['node']:.2f}",
            f"{100 * cpu['node'] / elapsed:.2f}",
            f"{rss['node']:.1f}",
        ],
    ]
    warm_at = started + WARMUP

    def after_warmup(name: str) -> str:
        seen = [ms for at, ms in sink.lasts.get(name, []) if at >= warm_at]
        return f"{max(seen):.2f}" if seen else ""

    lat_rows: list[list[object]] = [
        [
            name,
            f"{f.get('collect_ms_p99', 0):.2f}",
            f"{f.get('collect_ms_max', 0):.2f}",
            after_warmup(name),
            f"{f.get('collect_cpu_ms_p99', 0):.2f}",
            f"{float(f.get('collect_cpu_seconds', 0)):.3f}",
            f.get("samples", 0),
        ]
        for name, f in sorted(sink.latency.items())
    ]
    worst = max(
        (float(f.get("collect_ms_p99", 0)) for n, f in sink.latency.items() if n != "procstat"),
        default=0.0,
    )
    top_p99 = float(sink.latency.get("procstat", {}).get("collect_ms_p99", 0.0))
    worst_warm = max(
        (float(after_warmup(n) or 0) for n in sink.latency if n != "procstat"), default=0.0
    )
    goals: list[list[object]] = [
        [
            "agent CPU ≤ node_exporter CPU",
            f"{cpu['agent']:.2f} s vs {cpu['node']:.2f} s",
            "met" if cpu["agent"] <= cpu["node"] else "MISSED",
        ],
        [
            "agent peak RSS ≤ 30 MB",
            f"{rss['agent'] * MIB / 1e6:.1f} MB ({rss['agent']:.1f} MiB)",
            "met" if rss["agent"] * MIB <= 30e6 else "MISSED",
        ],
        [
            "p99 per collector < 20 ms (procstat excluded)",
            f"worst {worst:.2f} ms",
            "met" if worst < 20 else "MISSED",
        ],
        [
            f"(the same after start-up: slowest reported run after {WARMUP:g} s)",
            f"worst {worst_warm:.2f} ms",
            "met" if worst_warm < 20 else "MISSED",
        ],
        [
            f"top processes p99 < 200 ms with {EXTRA_PROCESSES} extra processes",
            f"{top_p99:.2f} ms",
            "met" if top_p99 < 200 else "MISSED",
        ],
    ]
    body = "\n\n".join(
        [
            f"{elapsed:.0f} s at default intervals ({default_intervals()}; the example config "
            f"`collector/agent.example.yaml`), {EXTRA_PROCESSES} extra sleeping processes, "
            f"node_exporter scraped every {SCRAPE_EVERY:g} s ({scrapes} scrapes, "
            f"{scrape_failures} failed); the agent sent {sink.points} points in "
            f"{sink.requests} requests to a local receiver. The agent ran from {python_note}. "
            "node_exporter runs its default collectors, which do not walk the process table; "
            "the agent's process scans are shown apart. CPU from /proc/PID/stat "
            f"(user+system), peak RSS is VmHWM; steady state excludes the first {WARMUP:g} s. "
            f"Load average at the end: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
            f"(other work shared the machine: wall-clock latencies include waiting for a CPU).",
            table(
                ["process", "CPU s (total)", "CPU s (steady)", "% of one core", "peak RSS MiB"],
                rows,
            ),
            "Per-collector latency, measured by the agent itself (`fleetmon_agent` "
            "self-metrics, window of the last 1024 runs, so over 10 minutes the p99 of a "
            "15 s collector is its slowest run, start-up included; wall clock, and the "
            "collecting thread's CPU time, which a busy machine does not inflate). "
            f'"max ms after {WARMUP:g} s" is the slowest run that the agent\'s reports '
            "(every 15 s: every run of the 15 s and 30 s collectors, every third of the 5 s "
            "ones) showed once start-up was over:",
            table(
                [
                    "collector",
                    "p99 ms",
                    "max ms",
                    f"max ms after {WARMUP:g} s",
                    "CPU p99 ms",
                    "CPU s total",
                    "runs",
                ],
                lat_rows,
            ),
            table(["goal", "measured", ""], goals),
        ]
    )
    write_section(
        "agent",
        "Agent footprint vs node_exporter",
        "FLEETMON_BENCH_AGENT_SECONDS=600 uv run python -m bench agent",
        body,
    )
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
