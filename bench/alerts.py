"""Alert worker: one evaluation cycle of 100 rules over 1,000 hosts on each real store, and
the time from a threshold crossing to the webhook receiving the notification."""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bench.report import table, write_section
from fleetmon_alerts.clock import SystemClock, to_ns
from fleetmon_alerts.delivery import Dispatcher, RetryPolicy
from fleetmon_alerts.evaluate import Evaluator
from fleetmon_alerts.leader import FileLock
from fleetmon_alerts.observe import query_workers
from fleetmon_alerts.worker import Worker
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.migrate import upgrade
from fleetmon_db.models import AlertChannel, AlertRule, Host
from fleetmon_db.timeseries import Point, TimeSeriesStore
from fleetmon_db.timeseries.factory import open_store
from tests.support.servers import ServerMissing, start_influxd, throwaway_pg_database

HOSTS = 1000
RULES = 100
STEP_S = 10
HISTORY_S = 120
STEADY_CYCLES = 5


def synthetic_points(now: datetime) -> list[Point]:
    """cpu, mem and two disks per host every 10 s for 2 minutes; ~5 % of hosts run hot."""
    points = []
    for h in range(HOSTS):
        host = f"host-{h:04d}"
        hot = h % 20 == 0
        for s in range(0, HISTORY_S, STEP_S):
            t = to_ns(now - timedelta(seconds=s))
            points.append(
                Point(
                    host,
                    "cpu",
                    t,
                    {"cpu": "cpu-total"},
                    {"usage_idle": 3.0 if hot else 60.0 + h % 30},
                )
            )
            points.append(Point(host, "mem", t, {}, {"used_percent": 97.0 if hot else 40.0}))
            for path in ("/", "/var"):
                points.append(
                    Point(host, "disk", t, {"path": path}, {"used_percent": 92.0 if hot else 50.0})
                )
    return points


def synthetic_rules() -> list[AlertRule]:
    """100 rules across the metrics, aggregates and scopes the defaults use."""
    kinds = [
        ("cpu.usage_idle", {"cpu": "cpu-total"}, "<", 20.0),
        ("mem.used_percent", {}, ">", 85.0),
        ("disk.used_percent", {}, ">", 80.0),
    ]
    aggs = ["avg", "max", "min", "last"]
    rules = []
    for i in range(RULES):
        metric, tags, cmp, thr = kinds[i % 3]
        scope: dict[str, Any] = {"labels": {"role": "db"}} if i % 5 == 0 else {}
        rules.append(
            AlertRule(
                name=f"bench-{i:03d}",
                metric=metric,
                tags=tags,
                aggregate=aggs[i % 4],
                window_s=60,
                comparison=cmp,
                threshold=thr + (i % 7),
                for_s=60,
                scope=scope,
                annotations={"summary": "$host $value"},
            )
        )
    return rules


def metadata(tmp: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp / 'meta.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    with sessions() as s:
        s.add_all(
            Host(name=f"host-{h:04d}", labels={"role": "db" if h % 2 else "web"})
            for h in range(HOSTS)
        )
        s.add(AlertChannel(name="log", kind="log", config={}))
        s.add_all(synthetic_rules())
        s.commit()
    return sessions


@contextlib.contextmanager
def stores(tmp: Path) -> Iterator[Iterator[tuple[str, TimeSeriesStore]]]:
    """Yield (name, store) for SQLite, InfluxDB and PostgreSQL (those that are installed)."""
    with contextlib.ExitStack() as stack:

        def gen() -> Iterator[tuple[str, TimeSeriesStore]]:
            yield "sqlite", open_store(f"sqlite:///{tmp / 'metrics.db'}")
            try:
                (tmp / "influx").mkdir()
                influx = start_influxd(tmp / "influx")
                stack.callback(influx.stop)
                yield "influxdb", open_store(f"{influx.url}/bench")
            except ServerMissing as exc:
                print(f"influxdb skipped: {exc}")
            try:
                url = stack.enter_context(throwaway_pg_database("fleetmon_bench"))
                yield "postgresql", open_store(url)
            except ServerMissing as exc:
                print(f"postgresql skipped: {exc}")

        yield gen()


class TimedStore:
    """Forwards to a store and adds up the wall-clock seconds during which at least one of
    its aggregate() or aggregate_many() calls was in flight (the evaluator may run several
    at once)."""

    def __init__(self, inner: TimeSeriesStore) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.queries = 0
        self._lock = threading.Lock()
        self._active = 0
        self._since = 0.0

    def aggregate(self, *args: Any) -> Any:
        return self._timed(lambda: self.inner.aggregate(*args))

    def _timed(self, call: Callable[[], Any]) -> Any:
        with self._lock:
            if self._active == 0:
                self._since = time.perf_counter()
            self._active += 1
        try:
            return call()
        finally:
            with self._lock:
                self._active -= 1
                self.queries += 1
                if self._active == 0:
                    self.seconds += time.perf_counter() - self._since

    def aggregate_many(self, *args: Any) -> Any:
        return self._timed(lambda: self.inner.aggregate_many(*args))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def cycle_figures(name: str, store: TimeSeriesStore, tmp: Path) -> list[object]:
    store.ensure_schema()
    now = datetime.now(UTC)
    pts = synthetic_points(now)
    store.write(pts)
    sessions = metadata(tmp / name)
    timed = TimedStore(store)
    ev = Evaluator(sessions, timed, SystemClock(), query_workers=query_workers(store))
    t0 = time.perf_counter()
    first = ev.run_once()
    first_s = time.perf_counter() - t0
    steady, in_store, load = [], [], []
    for _ in range(STEADY_CYCLES):
        timed.seconds, timed.queries = 0.0, 0
        t0 = time.perf_counter()
        ev.run_once()
        steady.append(time.perf_counter() - t0)
        in_store.append(timed.seconds)
        load.append(os.getloadavg()[0])
    errors = len(ev.last_errors)
    steady_s = statistics.median(steady)
    return [
        name,
        f"{len(pts):,}",
        len(first),
        f"{first_s:.2f}",
        f"{steady_s:.2f}",
        f"{min(steady):.2f}",
        timed.queries,
        f"{statistics.median(in_store):.2f}",
        errors,
        f"{statistics.median(load):.1f}",
        "yes" if steady_s < 2.0 else "no",
    ]


class _Hook(BaseHTTPRequestHandler):
    received: list[float] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        _Hook.received.append(time.monotonic())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def latency(tmp: Path, interval_s: float, for_s: int) -> float:
    """Seconds from the first breaching point being written to the webhook receiving it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received = []
    tmp = Path(tempfile.mkdtemp(dir=tmp))
    url = f"sqlite:///{tmp / 'lat-meta.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    with sessions() as s:
        s.add(
            AlertChannel(
                name="hook",
                kind="webhook",
                config={"url": f"http://127.0.0.1:{server.server_port}/"},
            )
        )
        s.add(
            AlertRule(
                name="latency",
                metric="cpu.usage_idle",
                aggregate="last",
                window_s=30,
                comparison="<",
                threshold=20.0,
                for_s=for_s,
            )
        )
        s.commit()
    store = open_store(f"sqlite:///{tmp / 'lat-metrics.db'}")
    store.ensure_schema()
    worker = Worker(
        sessions,
        store,
        SystemClock(),
        FileLock(tmp / "lat.lock"),
        Dispatcher(sessions, SystemClock(), policy=RetryPolicy(0.1)),
        interval_s,
        "http://127.0.0.1",
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        time.sleep(interval_s * 1.5)  # let the worker settle into its rhythm
        crossed = time.monotonic()
        store.write(
            [
                Point(
                    "hot",
                    "cpu",
                    to_ns(datetime.now(UTC) + timedelta(seconds=s)),
                    {},
                    {"usage_idle": 1.0},
                )
                for s in range(0, for_s + 30)
            ]
        )
        deadline = crossed + for_s + interval_s + 30
        while not _Hook.received and time.monotonic() < deadline:
            time.sleep(0.01)
        if not _Hook.received:
            return float("nan")
        return _Hook.received[0] - crossed
    finally:
        worker.stop.set()
        thread.join(10)
        store.close()
        server.shutdown()
        server.server_close()


def main(argv: list[str]) -> int:
    """Run both measurements and rewrite the `alerts` section of docs/benchmarks.md."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="fleetmon-bench-alerts-") as d:
        tmp = Path(d)
        with stores(tmp) as it:
            for name, store in it:
                (tmp / name).mkdir()
                try:
                    rows.append(cycle_figures(name, store, tmp))
                finally:
                    store.close()
                print(rows[-1], flush=True)
        lat_rows = []
        for interval_s, for_s in ((1.0, 0), (1.0, 5), (5.0, 5)):
            got = latency(tmp, interval_s, for_s)
            goal = for_s + interval_s + 2
            lat_rows.append(
                [
                    f"{interval_s:g}",
                    for_s,
                    f"{got:.2f}",
                    f"{goal:g}",
                    "yes" if got <= goal else "no",
                ]
            )
            print(lat_rows[-1], flush=True)
    body = (
        f"One evaluation cycle: {RULES} threshold rules (cpu/mem/disk; avg, max, min, last; "
        f"a fifth scoped by host label) over {HOSTS:,} hosts, 60 s windows of 10 s samples, "
        "about 5 % of hosts breaching. At most one store query per rule (rules asking the same "
        "question share it: 24 queries; InfluxDB answers the aggregates of one selector in one "
        "statement: 6), asked up to 4 at a time on PostgreSQL and InfluxDB, one "
        "at a time on in-process SQLite; `in store` is wall time with a query in flight). "
        "The first cycle creates the "
        f"~4,000 pending states; the goal applies to the steady state after it: median of "
        f"{STEADY_CYCLES} steady cycles < 2 s (best also shown). The machine is shared: "
        "`load` is the 1-minute load average (2 cores) during the steady cycles.\n\n"
        + table(
            [
                "store",
                "points",
                "transitions (1st)",
                "1st cycle s",
                "steady cycle s (median)",
                "best s",
                "store queries",
                "of which in store s",
                "rule errors",
                "load",
                "< 2 s",
            ],
            rows,
        )
        + "\n\nThreshold crossed -> webhook received, in-process worker on SQLite, local HTTP "
        "receiver. Goal: <= for + one interval + 2 s.\n\n"
        + table(["interval s", "for s", "latency s", "goal s", "met"], lat_rows)
    )
    write_section(
        "alerts", "Alert evaluation and notification latency", "uv run python -m bench alerts", body
    )
    return 0
