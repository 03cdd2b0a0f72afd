"""Store write throughput: InfluxDB, SQLite and PostgreSQL stores vs POSTing to influxd directly.

Point shape: measurement ``cpu``, tags ``cpu=cpu-total`` (+ ``host``), six float fields
(usage_user, usage_system, usage_idle, usage_iowait, usage_steal, usage_irq) — one Telegraf
cpu point. Batches of 5,000 points: 100 hosts x 50 timestamps 10 s apart. Every batch has
new timestamps, so nothing is overwritten. Each store runs eight rounds of six batches
interleaved with the others; the best round counts.
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from bench.report import table, write_section
from fleetmon_db.timeseries import NS, Point, TimeSeriesStore, open_store
from fleetmon_db.timeseries.lineprotocol import LineEncoder
from tests.support.servers import start_influxd, throwaway_pg_database

BATCH = 5_000
BATCHES = 6
ROUNDS = 8
HOSTS = 100
FIELDS = ("usage_user", "usage_system", "usage_idle", "usage_iowait", "usage_steal", "usage_irq")


def make_batches(round_no: int) -> list[list[Point]]:
    """BATCHES batches of BATCH points with timestamps unique to this round."""
    rnd = random.Random(round_no)
    per_host = BATCH // HOSTS
    now = time.time_ns()
    base = now - now % NS - 6 * 3600 * NS + round_no * BATCHES * per_host * 10 * NS
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
    (tmp / "influxd").mkdir()
    server = start_influxd(tmp / "influxd")
    results: dict[str, list[float]] = {k: [] for k in ("direct", "influx", "sqlite", "pg")}
    try:
        with throwaway_pg_database("fleetmon_bench") as pg_url:
            influx = open_store(f"{server.url}/bench_store")
            direct_db = f"bench_direct_{uuid.uuid4().hex[:6]}"
            schema = open_store(f"{server.url}/{direct_db}")
            sqlite = open_store(f"sqlite:///{tmp}/bench.db")
            pg = open_store(pg_url)
            client = httpx.Client(base_url=server.url, timeout=60)
            try:
                for s in (influx, schema, sqlite, pg):
                    s.ensure_schema()
                encoder = LineEncoder()
                for r in range(ROUNDS):
                    batches = make_batches(r)
                    n = sum(len(b) for b in batches)
                    bodies = [encoder.encode(b)[0] for b in batches]
                    results["direct"].append(run_direct(client, direct_db, bodies, n))
                    results["influx"].append(run_store(influx, batches))
                    results["sqlite"].append(run_store(sqlite, batches))
                    results["pg"].append(run_store(pg, batches))
                    print(
                        f"round {r}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in results.items())
                    )
            finally:
                client.close()
                for s in (influx, schema, sqlite, pg):
                    s.close()
    finally:
        server.stop()
    best = {k: max(v) for k, v in results.items()}
    ceiling = best["direct"]
    rows = [
        ["POST line protocol to influxd (ceiling)", f"{best['direct']:,.0f}", "1.00", "—"],
        [
            "InfluxDB store",
            f"{best['influx']:,.0f}",
            f"{best['influx'] / ceiling:.2f}",
            "≥ 100,000 and ≥ 0.6x ceiling",
        ],
        [
            "SQLite store (WAL)",
            f"{best['sqlite']:,.0f}",
            f"{best['sqlite'] / ceiling:.2f}",
            "≥ 50,000",
        ],
        ["PostgreSQL store", f"{best['pg']:,.0f}", f"{best['pg'] / ceiling:.2f}", "—"],
    ]
    body = (
        f"Batches of {BATCH:,} points; a point is one Telegraf-style `cpu` point: tags "
        f"`host`, `cpu`; {len(FIELDS)} float fields. {ROUNDS} rounds of {BATCHES} batches "
        "per store, interleaved; best round shown. influxd 1.6.7 on loopback, SQLite file "
        "in /tmp, PostgreSQL on the local server.\n\n"
        + table(["Writer", "points/s", "x ceiling", "target"], rows)
    )
    write_section(
        "storage", "Store write throughput", "make bench  (python -m bench storage)", body
    )
    print(body)
    return 0
