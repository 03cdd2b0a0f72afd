"""The Grafana alerts board: every panel's SQL runs against a real PostgreSQL holding alert
history made by the real alert worker, as the read-only role the board's datasource uses."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from dashboard import generate
from fleetmon_alerts.clock import to_ns
from fleetmon_alerts.delivery import Dispatcher
from fleetmon_alerts.evaluate import Evaluator
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.migrate import upgrade
from fleetmon_db.models import AlertChannel, AlertEvent, AlertRule, Host
from fleetmon_db.sample_alert import TEST_HOST, TEST_RULE, TEST_STATUS
from fleetmon_db.timeseries import Point
from fleetmon_db.timeseries.factory import open_store
from tests.conftest import server_missing
from tests.support.clock import FakeClock
from tests.support.servers import ServerMissing, throwaway_pg_database

ROOT = Path(__file__).resolve().parents[2]
BOARD = ROOT / "dashboard" / "dashboards" / "alerts.json"
GRANTS = ROOT / "dashboard" / "grafana-reader.sql"


@dataclass
class History:
    """A database with alert history, and how to connect as the board's reader role."""

    reader_dsn: str
    admin_dsn: str
    start: datetime
    end: datetime


def _mem(host: str, at: datetime, used: float) -> list[Point]:
    return [
        Point(host, "mem", to_ns(at - timedelta(seconds=s)), {}, {"used_percent": used})
        for s in (0, 15, 30, 45)
    ]


@pytest.fixture(scope="module")
def history() -> Iterator[History]:
    """Rules evaluated by the real worker over an hour: firings, resolutions, repeats,
    notifications delivered through the outbox, one channel test, one alert still firing."""
    try:
        ctx = throwaway_pg_database("fleetmon_board")
        url = ctx.__enter__()
    except ServerMissing as exc:
        server_missing(exc)
    role = f"grafana_reader_{uuid.uuid4().hex[:10]}"
    admin_dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        upgrade(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        store = open_store(url)
        store.ensure_schema()
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        clock = FakeClock(start)
        with sessions() as s:
            for name in ("web-1", "web-2", "db-1"):
                s.add(Host(name=name, labels={"role": name.split("-")[0]}, last_seen=start))
            s.add(AlertChannel(name="ops-log", kind="log", config={}, repeat_interval_s=600))
            s.add(
                AlertRule(
                    name="Memory high",
                    metric="mem.used_percent",
                    aggregate="avg",
                    window_s=60,
                    comparison=">",
                    threshold=80.0,
                    severity="warning",
                )
            )
            s.add(AlertRule(name="Memory critical", metric="mem.used_percent", aggregate="avg",
                            window_s=60, comparison=">", threshold=95.0, severity="critical",
                            for_s=120))  # fmt: skip
            s.commit()
        evaluator = Evaluator(sessions, store, clock)
        # web-1 flaps (fires and resolves three times), db-1 climbs and stays critical,
        # web-2 stays healthy.
        for step in range(12):
            now = clock.advance(60)
            flap = 90.0 if step % 4 < 2 else 50.0
            db = 70.0 + 3 * step
            store.write(_mem("web-1", now, flap) + _mem("web-2", now, 40.0) + _mem("db-1", now, db))
            evaluator.run_once()
        dispatcher = Dispatcher(sessions, clock)
        try:
            assert dispatcher.drain(timeout_s=20)
        finally:
            dispatcher.stop()
        with sessions() as s:
            # What a channel test leaves in the history: the boards leave it out.
            s.add(AlertEvent(rule_id=None, rule_name=TEST_RULE, fingerprint="test:board",
                             host=TEST_HOST, severity="info", from_status=TEST_STATUS,
                             to_status=TEST_STATUS, at=clock.now()))  # fmt: skip
            s.commit()
        store.close()
        engine.dispose()
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE ROLE "{role}" LOGIN')
            conn.execute(GRANTS.read_text().replace("grafana_reader", f'"{role}"'))
        reader_dsn = re.sub(r"://[^@/]*@", f"://{role}@", admin_dsn)
        yield History(reader_dsn, admin_dsn, start, clock.now() + timedelta(seconds=1))
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"') if _role_exists(conn, role) else None
        ctx.__exit__(None, None, None)
        with psycopg.connect(admin_dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def _role_exists(conn: psycopg.Connection[Any], role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def _render(sql: str, h: History) -> str:
    """Grafana's PostgreSQL macros, as Grafana expands them for the board's time range."""
    frm, to = h.start.isoformat(), h.end.isoformat()
    sql = re.sub(r"\$__timeFilter\(([\w.]+)\)", rf"\1 BETWEEN '{frm}' AND '{to}'", sql)
    sql = re.sub(
        r"\$__timeGroupAlias\(([\w.]+), \$__interval\)",
        r"""to_timestamp(floor(extract(epoch from \1) / 60) * 60) AS "time\"""",
        sql,
    )
    assert "$" not in sql, sql
    return sql


def _panels() -> list[dict[str, Any]]:
    return list(json.loads(BOARD.read_text())["panels"])


def _run(h: History, title: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    panel = next(p for p in _panels() if p["title"] == title)
    (target,) = panel["targets"]
    with psycopg.connect(h.reader_dsn) as conn:
        cur = conn.execute(_render(target["rawSql"], h).encode())
        assert cur.description is not None
        return [c.name for c in cur.description], cur.fetchall()


def test_board_uses_the_provisioned_postgres_datasource() -> None:
    provisioned = yaml.safe_load(
        (ROOT / "dashboard/provisioning/datasources/fleetmon.yaml").read_text()
    )
    pg = next(d for d in provisioned["datasources"] if d["uid"] == "fleetmon-postgres")
    assert pg["type"] == generate.ALERTS_DATASOURCE["type"]
    for panel in _panels():
        assert panel["datasource"] == generate.ALERTS_DATASOURCE
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == pg["uid"]
            assert target["rawSql"]


@pytest.mark.parametrize("title", [p["title"] for p in _panels()])
def test_every_panel_query_runs_as_the_reader_and_returns_history(
    history: History, title: str
) -> None:
    _, rows = _run(history, title)
    assert rows, f"{title}: no rows"


def test_panels_count_what_the_worker_did(history: History) -> None:
    _, firing = _run(history, "Firing now")
    # db-1 ends at ~103 %: memory high fired at once, memory critical after holding 2 min
    # (above 95 % from the 10th minute); web-1 ends on a low phase, resolved.
    assert firing == [(2,)]
    _, pending = _run(history, "Pending now")
    assert pending == [(0,)]
    cols, active = _run(history, "Active alerts")
    assert [(r[cols.index("rule")], r[cols.index("host")]) for r in active] == [
        ("Memory critical", "db-1"),  # most severe first
        ("Memory high", "db-1"),
    ]
    cols, noisy = _run(history, "Noisiest rules")
    assert noisy[0][cols.index("rule")] == "Memory high"
    assert noisy[0][cols.index("firings")] >= 3  # web-1's three flaps (+ db-1)
    cols, hosts = _run(history, "Noisiest hosts")
    assert hosts[0][cols.index("host")] == "web-1"
    cols, rows = _run(history, "Alert history")
    assert TEST_RULE not in [r[cols.index("rule")] for r in rows]
    assert "resolved" in [r[cols.index("to_status")] for r in rows]
    cols, delivery = _run(history, "Notifications by channel")
    assert delivery[0][cols.index("channel")] == "ops-log"
    assert delivery[0][cols.index("sent")] >= 4
    cols, changes = _run(history, "Alert changes")
    assert sum(r[cols.index("fired")] for r in changes) >= 4
    assert sum(r[cols.index("resolved")] for r in changes) >= 2


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT config FROM alert_channels",
        "SELECT payload FROM alert_notifications",
        "SELECT password_hash FROM users",
        "SELECT key_hash FROM host_keys",
    ],
)
def test_reader_role_sees_no_secret(history: History, sql: str) -> None:
    with (
        psycopg.connect(history.reader_dsn) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(sql.encode())
