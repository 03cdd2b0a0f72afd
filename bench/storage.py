"""Store write throughput: InfluxDB, SQLite and PostgreSQL stores vs POSTing to influxd directly.

Point shape: measurement ``cpu``, tags ``cpu=cpu-total`` (+ ``host``), six float fields
(usage_user, usage_system, usage_idle, usage_iowait, usage_steal, usage_irq) — one Telegraf
cpu point. Batches of 5,000 points: 100 hosts x 50 timestamps 10 s apart. Every batch has
new timestamps, so nothing is overwritten. Sixteen rounds of three batches per writer; the
best round is the least disturbed one on a shared machine, the median shows the spread.
The direct POSTs and the InfluxDB store alternate against one influxd; the SQL stores run
afterwards with influxd stopped.
"""

from __future__ import annotations

import gc
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from bench.report import table, write_section
from fleetmon_db.timeseries import NS, Point, TimeSeriesStore, open_store
from fleetmon_db.timeseries.influx.lineprotocol import LineEncoder
from tests.support.servers import start_influxd, throwaway_pg_database

BATCH = 5_000
BATCHES = 3
ROUNDS = 16
PAUSE_S = 2.0
HOSTS = 100
FIELDS = ("usage_user", "usage_system", "usage_idle", "usage_iowait", "usage_steal", "usage_irq")


def make_batches(round_no: int) -> list[list[Point]]:
    """BATCHES batches of BATCH points with timestamps unique to this round."""
    rnd = random.Random(round_no)
    per_host = BATCH // HOSTS
    now = time.time_ns()
    # Current timestamps (from now on): the real-time path, not a backfill of closed windows.
    base = now - now % NS + round_no * BATCHES * per_host * 10 * NS
    hosts = [f"host-{i:03d}.example.internal" for i in range(HOSTS)]
    tags = {"cpu": "cpu-total"}
    out = []
    for b in range(BATCHES):
        batch = []
        for j in range(per_host):
            t = base + (b * per_host + j) * 10 * NS
            for h in hosts:
                fields = {f: round(rnd.uniform(0, 100), 2) for f in FIELDS}
                batch.append(Point(h, "cpu", t, tags, fields))
        out.append(batch)
    return out


def timed(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_store(store: TimeSeriesStore, batches: Sequence[Sequence[Point]]) -> float:
    """Points per second writing `batches` one after the other."""

    def go() -> None:
        for b in batches:
            store.write(b)

    return sum(len(b) for b in batches) / timed(go)


def run_direct(client: httpx.Client, db: str, bodies: Sequence[bytes], points: int) -> float:
    """Points per second POSTing pre-encoded line protocol straight to influxd."""

    def go() -> None:
        for body in bodies:
            r = client.post(
                "/write", params={"db": db, "rp": "raw", "precision": "ns"}, content=body
            )
            r.raise_for_status()

    return points / timed(go)


def main(argv: list[str]) -> int:
    """Run the benchmark and rewrite the `storage` section of docs/benchmarks.md."""
    tmp = Path(tempfile.mkdtemp(prefix="fleetmon-bench-"))
    results: dict[str, list[float]] = {k: [] for k in ("direct", "influx", "sqlite", "pg")}
    rounds = [make_batches(r) for r in range(ROUNDS)]
    # The inputs (240,000 points) are long-lived: freeze them out of the cyclic GC so that
    # its full collections do not scan them over and over inside the timed loops.
    gc.collect()
    gc.freeze()
    encoder = LineEncoder()
    # Phase 1: influxd only. The direct POSTs and the store alternate, with a pause after
    # each run so that influxd's WAL snapshot of one run does not land on the other.
    (tmp / "influxd").mkdir()
    server = start_influxd(tmp / "influxd")
    try:
        influx = open_store(f"{server.url}/bench_store")
        direct_db = f"bench_direct_{uuid.uuid4().hex[:6]}"
        schema = open_store(f"{server.url}/{direct_db}")
        client = httpx.Client(base_url=server.url, timeout=60)
        try:
            influx.ensure_schema()
            schema.ensure_schema()
            for r, batches in enumerate(rounds):
                n = sum(len(b) for b in batches)
                bodies = [encoder.encode(b)[0] for b in batches]
                results["direct"].append(run_direct(client, direct_db, bodies, n))
                time.sleep(PAUSE_S)
                results["influx"].append(run_store(influx, batches))
                time.sleep(PAUSE_S)
                print(
                    f"round {r}: direct {results['direct'][-1]:,.0f}, "
                    f"store {results['influx'][-1]:,.0f}",
                    flush=True,
                )
        finally:
            client.close()
            influx.close()
            schema.close()
    finally:
        server.stop()
    # Phase 2: the SQL stores, each on its own (influxd stopped).
    with throwaway_pg_database("fleetmon_bench") as pg_url:
        for key, url in (("sqlite", f"sqlite:///{tmp}/bench.db"), ("pg", pg_url)):
            store = open_store(url)
            try:
                store.ensure_schema()
                for batches in rounds:
                    results[key].append(run_store(store, batches))
                    time.sleep(PAUSE_S / 4)
            finally:
                store.close()
            print(f"{key}: " + ", ".join(f"{v:,.0f}" for v in results[key]), flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0]
    best = {k: max(v) for k, v in results.items()}
    median = {k: sorted(v)[len(v) // 2] for k, v in results.items()}
    ceiling = best["direct"]
    labels = {
        "direct": ("POST line protocol to influxd (ceiling)", "—"),
        "influx": ("InfluxDB store", "≥ 100,000 and ≥ 0.6x ceiling"),
        "sqlite": ("SQLite store (WAL)", "≥ 50,000"),
        "pg": ("PostgreSQL store", "—"),
    }
    rows: list[list[object]] = [
        [label, f"{best[k]:,.0f}", f"{best[k] / ceiling:.2f}", f"{median[k]:,.0f}", target]
        for k, (label, target) in labels.items()
    ]
    body = (
        f"Batches of {BATCH:,} points; a point is one Telegraf-style `cpu` point: tags "
        f"`host`, `cpu`; {len(FIELDS)} float fields; current timestamps (the real-time path, "
        f"no backfill). {ROUNDS} rounds of {BATCHES} batches "
        "per writer; the direct POSTs and the InfluxDB store alternate against one influxd "
        "1.6.7 on loopback, the SQL stores run afterwards with influxd stopped (SQLite file "
        "in /tmp, PostgreSQL on the local server). The machine was shared with other "
        f"workloads (1-minute load average {load:.1f} on {os.cpu_count()} cores at the end of "
        "the run): the best round is the least disturbed one, the median shows the spread.\n\n"
        + table(["Writer", "best points/s", "best x ceiling", "median points/s", "target"], rows)
    )
    write_section(
        "storage", "Store write throughput", "make bench  (python -m bench storage)", body
    )
    print(body)
    return 0
