"""Hostile ingest bodies: `/health` latency and server RSS while they arrive.

One `fleetmon serve` process (SQLite) per code version. For each scenario, two client
threads each post the hostile body once, at the same time, with a valid host key while a
third asks `/health` every 20 ms; the server's RSS is sampled every 10 ms from /proc. Scenarios:

- lp-gzip-flood: 16 MiB of `m f=1\\n` gzipped (~24 KB) to /write (issue 15's attack);
- json-gzip-flood: 15 MiB of minimal agent points gzipped to /api/v1/metrics/collect;
- json-non-objects: `"points": [1,1,1,...]`, 256 KiB, gzipped, to /api/v1/metrics/collect;
- quiet: no hostile traffic (the baseline for /health).

FLEETMON_BENCH_HOSTILE_BASELINE=<git revision> also runs the same scenarios against that
revision's server code (extracted with `git archive`), side by side in the same run; the
section of docs/benchmarks.md is written only then.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.api import prepare_metadata
from bench.report import table, write_section
from tests.support.servers import free_port, stop_process, wait_http

SENDERS = 2
REPEAT = 1
SECRET = "bench-secret-" + "y" * 40
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Scenario:
    """A hostile request: path, headers, body."""

    name: str
    path: str
    body: bytes
    headers: dict[str, str]


def scenarios() -> list[Scenario]:
    """The hostile bodies (built once, before any timing)."""
    now = int(time.time())
    point = b'{"measurement":"m","time":%d,"fields":{"f":1}},' % now
    flood = b'{"batch_id":"%s","points":[' % uuid.uuid4().hex.encode()
    flood += point * (15 * 2**20 // len(point))
    json_gz = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    return [
        Scenario("quiet", "", b"", {}),
        Scenario(
            "lp-gzip-flood",
            "/write",
            gzip.compress(b"m f=1\n" * (16 * 2**20 // 6), 9),
            {"Content-Encoding": "gzip"},
        ),
        Scenario(
            "json-gzip-flood",
            "/api/v1/metrics/collect",
            gzip.compress(flood[:-1] + b"]}", 9),
            json_gz,
        ),
        Scenario(
            "json-non-objects",
            "/api/v1/metrics/collect",
            gzip.compress(b'{"batch_id":"x","points":[' + b"1," * 2**17 + b"1]}", 9),
            json_gz,
        ),
    ]


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_api(tmp: Path, source: Path | None) -> tuple[subprocess.Popen[bytes], str, str]:
    """`fleetmon serve` on SQLite; with `source`, that tree's server packages are imported."""
    db_url = f"sqlite:///{tmp / 'meta.db'}"
    _, key = prepare_metadata(db_url)
    port = free_port()
    env = dict(
        os.environ,
        FLEETMON_DATABASE_URL=db_url,
        FLEETMON_STORE_URL=f"sqlite:///{tmp / 'metrics.db'}",
        FLEETMON_SECRET_KEY=SECRET,
        FLEETMON_INGEST_RATE_LIMIT="10000000/minute",
        FLEETMON_ROLLUP_INTERVAL_S="0",
    )
    if source is not None:
        env["PYTHONPATH"] = f"{source / 'api-server' / 'src'}:{source / 'database' / 'src'}"
    cmd = [sys.executable, "-c", "from fleetmon_api.cli import main; raise SystemExit(main())",
           "serve", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    with (tmp / "api.log").open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health", timeout=90, proc=proc)
    return proc, url, key


@dataclass
class Figures:
    """What one scenario measured."""

    health_p50_ms: float
    health_max_ms: float
    rss_base_mb: float
    rss_peak_mb: float
    answer_s: float
    statuses: str


def run(url: str, key: str, pid: int, sc: Scenario) -> Figures:
    """Send the scenario's requests while watching /health and RSS."""
    stop = threading.Event()
    health: list[float] = []
    peak = [rss_mb(pid)]
    base = peak[0]

    def poll_health() -> None:
        with httpx.Client(base_url=url, timeout=300) as c:
            while not stop.is_set():
                t = time.perf_counter()
                with contextlib.suppress(httpx.TimeoutException):
                    c.get("/health")
                health.append(time.perf_counter() - t)
                time.sleep(0.02)

    def sample_rss() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.01)

    def send(_: int) -> list[tuple[int, float]]:
        out = []
        with httpx.Client(base_url=url, timeout=600) as c:
            for _ in range(REPEAT):
                t = time.perf_counter()
                r = c.post(sc.path, content=sc.body,
                           headers={"Authorization": f"Token {key}", **sc.headers})  # fmt: skip
                out.append((r.status_code, time.perf_counter() - t))
        return out

    threads = [threading.Thread(target=f, daemon=True) for f in (poll_health, sample_rss)]
    for t in threads:
        t.start()
    if sc.path:
        with ThreadPoolExecutor(SENDERS) as pool:
            answers = [a for batch in pool.map(send, range(SENDERS)) for a in batch]
    else:
        time.sleep(2)
        answers = []
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    statuses = ", ".join(sorted({str(s) for s, _ in answers})) or "-"
    return Figures(
        statistics.median(health) * 1000,
        max(health) * 1000,
        base,
        peak[0],
        statistics.median(d for _, d in answers) if answers else 0.0,
        statuses,
    )


def measure(label: str, source: Path | None, cases: list[Scenario]) -> list[list[object]]:
    """Every scenario against one server version: table rows."""
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="fleetmon-hostile-") as d:
        proc, url, key = start_api(Path(d), source)
        try:
            for sc in cases:
                f = run(url, key, proc.pid, sc)
                rows.append([
                    label, sc.name, f.statuses, f"{f.answer_s:.2f}", f"{f.health_p50_ms:.1f}",
                    f"{f.health_max_ms:.0f}", f"{f.rss_base_mb:.0f}", f"{f.rss_peak_mb:.0f}",
                ])  # fmt: skip
                print(rows[-1], flush=True)
        finally:
            stop_process(proc)
    return rows


def extract(revision: str, into: Path) -> Path:
    """The server packages of `revision`, extracted from git."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "api-server/src", "database/src"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    tar = into / "src.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return into


def main(argv: list[str]) -> int:
    """Run the scenarios (and against a baseline revision when asked); write the section."""
    cases = scenarios()
    baseline = os.environ.get("FLEETMON_BENCH_HOSTILE_BASELINE")
    rows: list[list[object]] = []
    load = os.getloadavg()[0]
    if baseline:
        with tempfile.TemporaryDirectory(prefix="fleetmon-baseline-") as d:
            rows += measure(f"before ({baseline[:10]})", extract(baseline, Path(d)), cases)
    rows += measure("after", None, cases)
    headers = ["server", "scenario", "answers", "answer s (median)", "/health p50 ms",
               "/health max ms", "RSS before MiB", "RSS peak MiB"]  # fmt: skip
    body = table(headers, rows)
    print(body)
    if baseline:
        note = (
            f"{SENDERS} senders x {REPEAT} requests per scenario, `/health` every 20 ms, server "
            f"RSS sampled every 10 ms; 1-minute load average at the start {load:.1f} on a "
            "shared machine. `before` is the server code of the named revision, run in the "
            "same way in the same run.\n\n"
        )
        write_section(
            "hostile",
            "Hostile ingest bodies: /health latency and server memory",
            f"FLEETMON_BENCH_HOSTILE_BASELINE={baseline} python -m bench hostile",
            note + body,
        )
    return 0
