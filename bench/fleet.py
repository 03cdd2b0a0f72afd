"""Fleet simulator: N hosts, each with its own key, posting real agent batches every few seconds.

`python -m bench fleet` (defaults: 2,000 hosts x 5 s for 60 s, one API worker) starts a
throwaway influxd, a PostgreSQL database for the metadata and `fleetmon serve`, enrolls the
hosts, then runs the same fleet twice in one run: line protocol straight to influxd (the
anchor) and agent JSON (gzip'd) through the API into influxd. Each phase reports sustained
points/s, request latency, answers by status, CPU of the API, influxd, PostgreSQL and the
simulator itself (from /proc), and exact accounting: the points accepted vs the points in
the store, host by host.

Options: --hosts N --interval S --seconds S; --fleets 500x5,2000x10 (several fleets in turn);
--workers N (API processes; Redis shares their state); --quick (200 hosts x 5 s for 20 s);
--matrix (the fleets of issue 11 and the knee); --docs (write the `fleet` section of
docs/benchmarks.md); --no-direct; --profile-api FILE (py-spy record of the API phase, if
py-spy is installed); --overview-only (enroll the hosts, write one batch per host straight
into the store, time the overview: `--hosts 5000 --overview-only` is the 5,000-host
overview target without a 5,000-host fleet running).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from bench.fleetclient import (
    HostResult,
    Payloads,
    Target,
    TemplatePoint,
    api_target,
    field_count,
    influx_target,
    run_fleet,
    template_from_batch,
)
from bench.report import table, write_section
from fleetmon_api import services
from fleetmon_api.security import new_host_key
from fleetmon_db import migrate
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.models import Host, HostKey, Role
from fleetmon_db.timeseries.influx.influxql import ident
from tests.support.servers import (
    INFLUX_CACHE_SNAPSHOT_BYTES,
    PG_ADMIN_DSN,
    REDIS_URL,
    InfluxServer,
    free_port,
    start_influxd,
    stop_process,
    throwaway_pg_database,
    wait_http,
)

SECRET = "bench-fleet-secret-" + "x" * 40
VIEWER, PASSWORD = "bench-viewer", "bench-viewer-password"
OVERVIEW_REQUESTS = 40
DIRECT_DB = "direct"
STORE_DB = "fleetmon"
BIN = Path(sys.executable).parent
# The fleets of issue 11's table (hosts, interval s), then the knee candidates at 10 s.
MATRIX = [(500, 5.0), (2000, 10.0), (2000, 5.0), (5000, 10.0)]


def agent_template() -> list[TemplatePoint]:
    """One real batch of the agent's default collectors (`fleetmon-agent once`)."""
    out = subprocess.run(
        [str(BIN / "fleetmon-agent"), "once"], capture_output=True, check=True, timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("FLEETMON_")},
    )  # fmt: skip
    return template_from_batch(json.loads(out.stdout))


def enroll_hosts(db_url: str, count: int) -> tuple[list[str], list[str]]:
    """Migrate; create `count` hosts with one API key each (as enrollment does, in bulk) and
    a viewer for the overview."""
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    names = [f"fleet-{i:05d}" for i in range(count)]
    keys: list[str] = []
    with make_sessionmaker(engine)() as db:
        services.create_user(db, VIEWER, PASSWORD, Role.VIEWER)
        hosts = [Host(name=n, labels={"role": "bench"}) for n in names]
        db.add_all(hosts)
        db.flush()
        for h in hosts:
            secret = new_host_key()
            db.add(HostKey(host_id=h.id, prefix=secret.prefix, key_hash=secret.hash))
            keys.append(secret.value)
        db.commit()
    engine.dispose()
    return names, keys


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


class CpuMeter:
    """CPU seconds spent by groups of processes between `start` and `stop`."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self._before: dict[str, dict[int, float]] = {}

    def _read(self) -> dict[str, dict[int, float]]:
        return {g: {p: cpu_seconds(p) for p in fn()} for g, fn in self.groups.items()}

    def start(self) -> None:
        """Remember every process's CPU now."""
        self._before = self._read()

    def stop(self) -> dict[str, float]:
        """CPU seconds per group since `start` (processes started since count whole)."""
        after = self._read()
        return {
            g: sum(c - self._before.get(g, {}).get(p, 0.0) for p, c in procs.items())
            for g, procs in after.items()
        }


def pg_backends(dbname: str) -> list[int]:
    """PIDs of the PostgreSQL backends connected to `dbname` (the API's pool)."""
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (dbname,)
        ).fetchall()
    return [int(r[0]) for r in rows]


def influx_query(url: str, q: str, db: str) -> dict[str, object]:
    """One InfluxQL statement; the JSON answer."""
    r = httpx.post(f"{url}/query", data={"q": q, "db": db, "epoch": "ns"}, timeout=300)
    r.raise_for_status()
    answer: dict[str, object] = r.json()
    return answer


def witnesses(template: list[TemplatePoint]) -> dict[str, str]:
    """Per measurement, a field every point of that measurement in the batch carries."""
    common: dict[str, set[str]] = {}
    for p in template:
        names = set(p.fields)
        common[p.measurement] = common[p.measurement] & names if p.measurement in common else names
    missing = [m for m, names in common.items() if not names]
    if missing:
        raise ValueError(f"no field common to every point of {missing}: cannot count points")
    return {m: min(names) for m, names in common.items()}


def stored_points(
    url: str, db: str, rp: str, template: list[TemplatePoint], since_ns: int, until_ns: int
) -> Counter[str]:
    """Points stored per host in [since, until) of `db`.`rp`, counted measurement by measurement
    on a field each of the batch's points of that measurement carries (a line is stored whole
    or not at all, so this counts points exactly and costs influxd one field per measurement)."""
    # Names from the agent's own batch and this module, ints for times: quoted, not trusted.
    stmts = [
        f"SELECT count({ident(f)}) FROM {ident(db)}.{ident(rp)}.{ident(m)}"  # noqa: S608
        f" WHERE time >= {int(since_ns)} AND time < {int(until_ns)} GROUP BY host"
        for m, f in sorted(witnesses(template).items())
    ]
    answer = influx_query(url, ";".join(stmts), db)
    out: Counter[str] = Counter()
    for result in answer.get("results", []):  # type: ignore[attr-defined]
        if "error" in result:
            raise RuntimeError(f"count query failed: {result['error']}")
        for s in result.get("series", []):
            host = s.get("tags", {}).get("host", "")
            out[host] += sum(int(row[1]) for row in s["values"] if row[1] is not None)
    return out


@dataclass
class Phase:
    """One fleet run against one target, and what it cost."""

    label: str
    hosts: int
    interval: float
    seconds: float
    results: list[HostResult]
    wall_s: float
    cpu: dict[str, float]
    accepted_points: int
    stored_points: int
    missing: dict[str, int]
    points_per_batch: int

    @property
    def latencies_ms(self) -> list[float]:
        """Every request's latency in ms, sorted."""
        return sorted(x * 1000 for r in self.results for x in r.latencies)

    def pct(self, q: float) -> float:
        """Latency percentile in ms."""
        lat = self.latencies_ms
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

    @property
    def statuses(self) -> Counter[int]:
        """Answers by status over every request (599: connection error or timeout)."""
        out: Counter[int] = Counter()
        for r in self.results:
            out.update(r.statuses)
        return out

    @property
    def points_per_s(self) -> float:
        """Accepted points per second of wall time (until the last answer)."""
        return sum(r.accepted_points for r in self.results) / self.wall_s

    def cores(self, group: str) -> float:
        """Cores a process group used on average over the phase."""
        return self.cpu.get(group, 0.0) / self.wall_s

    @property
    def given_up(self) -> int:
        """Batches never acknowledged (retries exhausted or refused)."""
        return sum(r.failed_batches for r in self.results)

    @property
    def loss(self) -> int:
        """Accepted points missing from the store, host by host, plus batches given up.

        A host may have more points stored than acknowledged: a batch whose answer came too
        late for the client was stored all the same (its retry is a duplicate).
        """
        return sum(self.missing.values()) + self.given_up

    def row(self) -> list[object]:
        """A table row."""
        st = ", ".join(f"{k}: {v:,}" for k, v in sorted(self.statuses.items()))
        cores = lambda g: f"{self.cores(g):.2f}" if g in self.cpu else "-"  # noqa: E731
        return [
            self.label,
            f"{self.hosts:,} x {self.interval:g} s",
            f"{self.points_per_s:,.0f}",
            f"{self.pct(0.5):.1f}",
            f"{self.pct(0.99):.1f}",
            f"{self.pct(1.0):.0f}",
            st,
            cores("api"),
            cores("influxd"),
            cores("postgres"),
            cores("client"),
            f"{self.wall_s:.0f} / {self.seconds:g}",
            f"{self.stored_points:,} / {self.accepted_points:,}",
            f"{sum(self.missing.values()):,} ({len(self.missing)} hosts), "
            f"{self.given_up:,} batches given up",
        ]


HEADERS = [
    "path",
    "fleet",
    "points/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "answers",
    "API cores",
    "influxd cores",
    "PG cores",
    "client cores",
    "wall s / s",
    "points stored / accepted",
    "lost points (hosts), batches given up",
]


class Rig:
    """influxd, a PostgreSQL metadata database, `fleetmon serve`, enrolled hosts."""

    def __init__(
        self,
        stack: ExitStack,
        tmp: Path,
        hosts: int,
        workers: int,
        rollup_s: float,
        influx_snapshot_bytes: int = INFLUX_CACHE_SNAPSHOT_BYTES,
    ):
        self.tmp = tmp
        (tmp / "influxd").mkdir()
        self.influx: InfluxServer = start_influxd(tmp / "influxd", influx_snapshot_bytes)
        stack.callback(self.influx.stop)
        self.db_url = stack.enter_context(throwaway_pg_database("fleetmon_bench"))
        self.db_name = self.db_url.rsplit("/", 1)[1]
        print(f"enrolling {hosts:,} hosts", flush=True)
        self.names, self.keys = enroll_hosts(self.db_url, hosts)
        httpx.post(f"{self.influx.url}/query", params={"q": f"CREATE DATABASE {DIRECT_DB}"})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETMON_")}
        env |= {
            "FLEETMON_DATABASE_URL": self.db_url,
            "FLEETMON_STORE_URL": f"{self.influx.url}/{STORE_DB}",
            "FLEETMON_SECRET_KEY": SECRET,
            "FLEETMON_INGEST_RATE_LIMIT": "1000/minute",
            "FLEETMON_ROLLUP_INTERVAL_S": str(rollup_s),
            "FLEETMON_DATA_DIR": str(tmp / "data"),
        }
        if workers > 1:
            env["FLEETMON_REDIS_URL"] = REDIS_URL
            env["FLEETMON_RATE_LIMIT_KEY_PREFIX"] = f"fmbench-{os.getpid()}"
        self.log_path = tmp / "api.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "fleetmon"), "serve", "--port", str(self.port),
                 "--workers", str(workers), "--log-level", "warning"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        stack.callback(stop_process, self.proc)
        wait_http(f"{self.url}/health", timeout=120, proc=self.proc)
        self.meter = CpuMeter(
            {
                "api": lambda: descendants(self.proc.pid),
                "influxd": lambda: [self.influx.proc.pid],
                "postgres": lambda: pg_backends(self.db_name),
                "client": lambda: [os.getpid()],
            }
        )

    def log(self) -> str:
        """The API's log so far."""
        return self.log_path.read_text(errors="replace")

    def metrics(self) -> str:
        """The API's /metrics (one worker's)."""
        return httpx.get(f"{self.url}/metrics", timeout=30).text


def run_phase(
    rig: Rig,
    label: str,
    target: Target,
    db: str,
    rp: str,
    template: list[TemplatePoint],
    hosts: int,
    interval: float,
    seconds: float,
    cpu_groups: tuple[str, ...],
    timeline: Path | None = None,
) -> Phase:
    """Run one fleet against `target`; account for every value in `db`.`rp`."""
    names = rig.names[:hosts]
    payloads = [Payloads(n, template) for n in names]
    print(f"{label}: {hosts:,} hosts x {interval:g} s for {seconds:g} s", flush=True)
    since = time.time_ns()
    rig.meter.start()
    results, wall = asyncio.run(
        run_fleet(target, payloads, interval=interval, seconds=seconds, progress=True)
    )
    if timeline is not None:
        name = f"{timeline.name}.{label.split()[0]}.{hosts}x{interval:g}"
        slow_seconds(results, timeline.with_name(name))
    cpu = {g: c for g, c in rig.meter.stop().items() if g in cpu_groups}
    time.sleep(1)  # influxd makes a write visible to queries at once; a margin all the same
    per_batch = len(template)
    stored = stored_points(rig.influx.url, db, rp, template, since, time.time_ns() + 60 * 10**9)
    missing = {
        n: r.accepted_batches * per_batch - stored.get(n, 0)
        for n, r in zip(names, results, strict=True)
        if stored.get(n, 0) < r.accepted_batches * per_batch
    }
    phase = Phase(
        label, hosts, interval, seconds, results, wall, cpu,
        sum(r.accepted_batches for r in results) * per_batch, sum(stored[n] for n in names),
        missing, len(template),
    )  # fmt: skip
    print(table(HEADERS, [phase.row()]), flush=True)
    samples: dict[int, bytes] = {}
    for r in results:
        for st, text in r.samples.items():
            samples.setdefault(st, text)
    for st, text in sorted(samples.items()):
        print(f"  first {st} answer: {text.decode(errors='replace')}", flush=True)
    return phase


def slow_seconds(results: list[HostResult], out: Path, slow_s: float = 0.1) -> None:
    """Write (answered at, latency) of every request to `out` as JSON and print the
    half-seconds of the run whose requests, by the time they were sent, had answers slower
    than `slow_s`: a cold start, a rollup run or a store stall shows as a cluster there."""
    pairs = [(t, lat) for r in results for t, lat in zip(r.answered, r.latencies, strict=True)]
    out.write_text(json.dumps(pairs))
    if not pairs:
        return
    t0 = min(t - lat for t, lat in pairs)
    by_slot: dict[float, list[float]] = {}
    for t, lat in pairs:
        by_slot.setdefault(int((t - lat - t0) * 2) / 2, []).append(lat)
    for slot, lats in sorted(by_slot.items()):
        slow = sum(lat > slow_s for lat in lats)
        if slow:
            print(f"  at {slot:6.1f} s: {slow} of {len(lats)} answers > {slow_s * 1000:.0f} ms,"
                  f" max {max(lats) * 1000:.0f} ms", flush=True)  # fmt: skip
    print(f"  timeline: {out}", flush=True)


def rollup_outcome(rig: Rig) -> str:
    """Rollup runs by outcome and the tiers' lag, from the API's /metrics and log."""
    text = rig.metrics()
    runs = dict(re.findall(r'fleetmon_rollup_runs_total\{outcome="(\w+)"\} ([\d.e+]+)', text))
    lags = re.findall(r'fleetmon_rollup_lag_seconds\{tier="(\w+)"\} ([\d.e+]+)', text)
    failed = rig.log().count("rollup failed") + rig.log().count("rollup and retention failed")
    parts = [f"runs ok {float(runs.get('ok', 0)):.0f}, error {float(runs.get('error', 0)):.0f}"]
    if lags:
        parts.append("lag " + ", ".join(f"{t} {float(v):.0f} s" for t, v in lags))
    parts.append(f"{failed} failures in the log")
    return "; ".join(parts)


def overview_latency(rig: Rig) -> list[list[object]]:
    """p50/p95 of the fleet page's requests (first page of 100, sorted or filtered), sequential,
    after one warm-up each, with every enrolled host in the metadata and the fleet's data in
    the store."""
    with httpx.Client(base_url=rig.url, timeout=60) as client:
        tok = client.post("/api/v1/auth/token", data={"username": VIEWER, "password": PASSWORD})
        tok.raise_for_status()
        client.headers["Authorization"] = f"Bearer {tok.json()['access_token']}"
        views = [
            ("first page of 100, by status", {"limit": "100", "sort": "status"}),
            ("first page of 100, busiest CPU first", {"limit": "100", "sort": "cpu",
                                                      "order": "desc"}),
            ("filter by name, page of 100", {"limit": "100", "q": "fleet-001"}),
            ("every host (no paging)", {}),
        ]  # fmt: skip
        rows: list[list[object]] = []
        for label, params in views:
            client.get("/api/v1/metrics/overview", params=params).raise_for_status()
            times = []
            for _ in range(OVERVIEW_REQUESTS):
                t0 = time.perf_counter()
                r = client.get("/api/v1/metrics/overview", params=params)
                times.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
            times.sort()
            p95 = times[int(0.95 * (len(times) - 1))]
            rows.append([label, f"{len(rig.names):,}", f"{statistics.median(times):.1f}",
                         f"{p95:.1f}"])  # fmt: skip
            print(f"  overview {label}: p50 {rows[-1][2]} ms, p95 {rows[-1][3]} ms", flush=True)
    return rows


OVERVIEW_HEADERS = ["overview request", "hosts", "p50 ms", "p95 ms"]


@contextmanager
def py_spy(pid: int, out: Path, seconds: float) -> Iterator[None]:
    """py-spy record of `pid` (and its workers) while the block runs, if py-spy is installed."""
    exe = shutil.which("py-spy") or str(BIN / "py-spy")
    if not Path(exe).exists():
        print("py-spy not installed; no profile", flush=True)
        yield
        return
    proc = subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--rate", "50",
         "--duration", str(int(seconds) + 5), "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        proc.wait(timeout=120)
        print(f"profile: {out}", flush=True)


def main(argv: list[str]) -> int:
    """Run the fleet(s) and print (or write to docs) the table."""
    ap = argparse.ArgumentParser(prog="python -m bench fleet", description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=2000)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=1)
    # The API's default: the job also runs when each 5-minute window closes.
    ap.add_argument("--rollup-interval", type=float, default=60.0)
    ap.add_argument(
        "--influx-snapshot-mib",
        type=int,
        default=INFLUX_CACHE_SNAPSHOT_BYTES >> 20,
        help="influxd's cache snapshot size (what compose ships; InfluxDB's default is 25)",
    )
    ap.add_argument("--quick", action="store_true", help="200 hosts x 5 s for 20 s")
    ap.add_argument("--matrix", action="store_true", help="issue 11's fleets and the knee")
    ap.add_argument(
        "--fleets", help="fleets to run one after the other, e.g. 500x5,2000x10 (hosts x s)"
    )
    ap.add_argument("--no-direct", action="store_true", help="skip the direct-to-influxd anchor")
    ap.add_argument("--docs", action="store_true", help="write docs/benchmarks.md's section")
    ap.add_argument("--profile-api", type=Path, help="py-spy raw profile of the API phase here")
    ap.add_argument(
        "--timeline",
        type=Path,
        help="each request's answer time and latency (JSON) to FILE.<path>.<fleet>",
    )
    ap.add_argument(
        "--overview-only",
        action="store_true",
        help="no fleet phases: one batch per host straight into the store, then the overview",
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.hosts, args.interval, args.seconds = 200, 5.0, 20.0
    fleets = MATRIX if args.matrix else [(args.hosts, args.interval)]
    if args.fleets:
        fleets = [(int(h), float(s)) for h, s in (f.split("x") for f in args.fleets.split(","))]
    template = agent_template()
    print(
        f"agent batch: {len(template)} points, {field_count(template)} field values; "
        f"load {os.getloadavg()}",
        flush=True,
    )
    phases: list[Phase] = []
    rollups: list[str] = []
    load_before = os.getloadavg()
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="fleetmon-bench-fleet-"))
        stack.callback(shutil.rmtree, tmp, True)
        rig = Rig(
            stack, tmp, max(h for h, _ in fleets), args.workers, args.rollup_interval,
            args.influx_snapshot_mib << 20,
        )  # fmt: skip
        raw_rp = "raw"
        if args.overview_only:
            fleets = []
            port = int(rig.influx.url.rsplit(":", 1)[1])
            payloads = [Payloads(n, template) for n in rig.names]
            print(f"seeding one batch per host for {len(payloads):,} hosts", flush=True)
            seed = influx_target(port, STORE_DB, raw_rp)
            asyncio.run(run_fleet(seed, payloads, interval=args.interval, seconds=args.interval))
        for hosts, interval in fleets:
            if not args.no_direct:
                phases.append(
                    run_phase(
                        rig, "line protocol straight to influxd", influx_target(
                            int(rig.influx.url.rsplit(":", 1)[1]), DIRECT_DB),
                        DIRECT_DB, "autogen", template, hosts, interval, args.seconds,
                        ("influxd", "client"), args.timeline,
                    )
                )  # fmt: skip
            api = api_target(rig.port, rig.keys[:hosts])
            label = f"agent JSON through the API ({args.workers} worker(s))"
            with ExitStack() as prof:
                if args.profile_api:
                    prof.enter_context(py_spy(rig.proc.pid, args.profile_api, args.seconds))
                phases.append(
                    run_phase(
                        rig, label, api, STORE_DB, raw_rp, template, hosts, interval,
                        args.seconds, ("api", "influxd", "postgres", "client"), args.timeline,
                    )
                )  # fmt: skip
            rollups.append(f"{hosts:,} x {interval:g} s: {rollup_outcome(rig)}")
            print(rollups[-1], flush=True)
        overview = overview_latency(rig)
    load_after = os.getloadavg()
    result = table(HEADERS, [p.row() for p in phases])
    result += "\n\n" + table(OVERVIEW_HEADERS, overview)
    print(result)
    summary = verdict(phases, overview)
    print(summary)
    if args.docs:
        write_docs(args, phases, rollups, result, summary, load_before, load_after)
    return 0


def verdict(phases: list[Phase], overview: list[list[object]]) -> str:
    """Issue 11's targets, met or missed, from this run's rows."""
    rows = []
    for label, hosts, _, p95 in overview:
        if "no paging" not in str(label):
            rows.append([f"overview p95 < 100 ms ({hosts} hosts): {label}", f"{p95} ms",
                         _ok(float(str(p95)) < 100)])  # fmt: skip
    by = {(p.hosts, p.interval, p.label.startswith("agent")): p for p in phases}
    for (hosts, interval, via_api), p in by.items():
        if not via_api:
            continue
        direct = by.get((hosts, interval, False))
        if interval <= 5 and hosts >= 2000:
            rows.append([f"{hosts:,} x {interval:g} s p99 < 100 ms", f"{p.pct(0.99):.0f} ms",
                         _ok(p.pct(0.99) < 100)])  # fmt: skip
            rows.append([f"{hosts:,} x {interval:g} s max < 1 s", f"{p.pct(1.0):.0f} ms",
                         _ok(p.pct(1.0) < 1000)])  # fmt: skip
        if interval >= 10:
            knee = p.pct(0.99) < 250 and p.loss == 0
            rows.append([f"{hosts:,} x {interval:g} s p99 < 250 ms (knee)",
                         f"{p.pct(0.99):.0f} ms", _ok(knee)])  # fmt: skip
        rows.append([f"{hosts:,} x {interval:g} s zero loss", f"{p.loss}", _ok(p.loss == 0)])
        if direct is not None:
            ours = p.cores("api") + p.cores("influxd")
            rows.append([f"{hosts:,} x {interval:g} s API + influxd CPU <= influxd direct",
                         f"{ours:.2f} vs {direct.cores('influxd'):.2f} cores",
                         _ok(ours <= direct.cores("influxd"))])  # fmt: skip
    return table(["target", "measured", ""], rows)


def _ok(flag: bool) -> str:
    return "met" if flag else "MISSED"


def write_docs(
    args: argparse.Namespace,
    phases: list[Phase],
    rollups: list[str],
    result: str,
    summary: str,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> None:
    """The `fleet` section of docs/benchmarks.md."""
    med_batch = statistics.median(p.points_per_batch for p in phases) if phases else 0
    cmd = "uv run python -m bench fleet" + (" --matrix" if args.matrix else "")
    if args.fleets:
        cmd += f" --fleets {args.fleets} --seconds {args.seconds:g}"
    if args.influx_snapshot_mib != INFLUX_CACHE_SNAPSHOT_BYTES >> 20:
        cmd += f" --influx-snapshot-mib {args.influx_snapshot_mib}"
    body = f"""Each simulated host has its own enrolled key and posts one real `fleetmon-agent once`
batch ({med_batch:.0f} points) re-stamped per tick, gzip'd, over its own keep-alive
connection, at a random phase and its interval with +-10 % jitter; it waits for the answer
before its next batch and retries 429/5xx like the agent. The same fleet writes the same
points as line protocol straight to influxd in the same run (the anchor). Latency is per
request; "wall s / s" is the time until the last answer against the scheduled time; loss
counts points accepted but missing from the store (host by host, counted in influxd) plus
batches never accepted. Load average (1/5/15 min) {load_before[0]:.1f}/{load_before[1]:.1f}/
{load_before[2]:.1f} before and {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f} after,
on {os.cpu_count()} cores; {args.workers} API worker(s); influxd's cache snapshot size
{args.influx_snapshot_mib} MiB (as docker-compose.yml sets it), the same influxd for both
paths; the rollup job at the API's defaults (every {args.rollup_interval:g} s and when a
5-minute window closes).

{result}

Rollups during the run: {"; ".join(rollups)}.

{summary}
"""
    write_section("fleet", "Fleet: thousands of agents, small batches", cmd, body)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
