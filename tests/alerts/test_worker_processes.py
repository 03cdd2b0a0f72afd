"""Real worker processes: restart while firing sends no duplicate; two workers send one
notification per event; when the leader dies the other takes over within an interval."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts.cli import prepare
from fleetmon_alerts.clock import to_ns
from fleetmon_alerts.settings import Settings
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.migrate import upgrade
from fleetmon_db.models import AlertRule
from fleetmon_db.timeseries import Point, TimeSeriesStore
from fleetmon_db.timeseries.factory import open_store
from tests.alerts.helpers import add_channel, add_rule, events, notifications
from tests.support.receiver import Receiver
from tests.support.servers import stop_process, throwaway_pg_database

INTERVAL = 0.5


class Fleet:
    """A metadata DB, a store and the worker processes sharing them."""

    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.env = {
            **os.environ,
            "FLEETMON_DATA_DIR": str(root),
            "FLEETMON_DATABASE_URL": database_url,
            "FLEETMON_STORE_URL": f"sqlite:///{root / 'metrics.db'}",
            "FLEETMON_ALERTS_INTERVAL": str(INTERVAL),
            "FLEETMON_ALERTS_RETRY_BASE": "0.1",
        }
        upgrade(database_url)
        self.engine = make_engine(database_url)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.store: TimeSeriesStore = open_store(self.env["FLEETMON_STORE_URL"])
        self.store.ensure_schema()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []

    def setup(self, receiver: Receiver) -> None:
        add_channel(self.sessions, "hook", "webhook", {"url": receiver.url + "/hook"})
        add_rule(
            self.sessions,
            name="busy",
            metric="cpu.usage_idle",
            aggregate="avg",
            window_s=30,
            comparison="<",
            threshold=20.0,
            for_s=0,
        )
        # Defaults installed once, before the race.
        prepare(Settings.from_env(self.env)).kw["bind"].dispose()
        with self.sessions() as s:  # only our rule speaks in these tests
            s.execute(update(AlertRule).where(AlertRule.builtin.is_(True)).values(enabled=False))
            s.commit()

    def cpu(self, host: str, idle: float) -> None:
        """Points every 2 s from 30 s ago to 60 s ahead, so the window stays filled."""
        now = datetime.now(UTC)
        self.store.write(
            [
                Point(
                    host,
                    "cpu",
                    to_ns(now + timedelta(seconds=s)),
                    {"cpu": "cpu-total"},
                    {"usage_idle": idle},
                )
                for s in range(-30, 60, 2)
            ]
        )

    def clear(self, host: str) -> None:
        """Idle from now on; the busy samples leave the window after it passes."""
        self.store.delete_host(host)
        self.cpu(host, 90.0)

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.log").open("wb")
        self.logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "fleetmon_alerts.cli", "run"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text()

    def close(self) -> None:
        for p in self.procs:
            stop_process(p)
        for log in self.logs:
            log.close()
        self.store.close()
        self.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fleet]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'fleetmon.db'}"
        else:
            request.getfixturevalue("pg_url")  # fails under CI if PostgreSQL is missing
            url = stack.enter_context(throwaway_pg_database("fleetmon_alerts"))
        f = Fleet(tmp_path, url)
        stack.callback(f.close)
        yield f


def wait_until(cond: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def statuses(receiver: Receiver) -> list[tuple[str, str]]:
    return [(r.json()["host"], r.json()["status"]) for r in receiver.ok()]


def test_restart_while_firing_sends_no_duplicate(fleet: Fleet, receiver: Receiver) -> None:
    fleet.setup(receiver)
    fleet.cpu("a", 2.0)
    first = fleet.start("w1")
    receiver.wait_for(1, timeout=45)
    # Killed once the delivery is recorded: a kill between the receiver's answer and that
    # commit is the one window where at-least-once delivery repeats (see docs/alerts.md).
    wait_until(lambda: [n.status for n in notifications(fleet.sessions)] == ["sent"], 10)
    first.send_signal(signal.SIGKILL)  # the worst case: no clean shutdown
    first.wait(10)
    fleet.start("w2")
    wait_until(lambda: "became leader" in fleet.log("w2"), 45)
    time.sleep(6 * INTERVAL)  # several evaluations while still firing
    assert statuses(receiver) == [("a", "firing")]
    fleet.clear("a")
    receiver.wait_for(2, timeout=40)
    time.sleep(4 * INTERVAL)
    assert statuses(receiver) == [("a", "firing"), ("a", "resolved")]
    assert "/hook" not in fleet.log("w1") + fleet.log("w2")  # webhook URLs are secrets
    assert events(fleet.sessions) == [("a", "inactive", "firing"), ("a", "firing", "resolved")]


def test_two_workers_one_notification_per_event_and_takeover(
    fleet: Fleet, receiver: Receiver
) -> None:
    fleet.setup(receiver)
    for host in ("a", "b", "c"):
        fleet.cpu(host, 2.0)
    w1, w2 = fleet.start("w1"), fleet.start("w2")
    receiver.wait_for(3, timeout=45)
    time.sleep(6 * INTERVAL)
    assert sorted(statuses(receiver)) == [("a", "firing"), ("b", "firing"), ("c", "firing")]
    leaders = [n for n in ("w1", "w2") if "became leader" in fleet.log(n)]
    assert len(leaders) == 1
    leader, follower = (w1, "w2") if leaders == ["w1"] else (w2, "w1")
    leader.send_signal(signal.SIGKILL)
    leader.wait(10)
    killed = time.monotonic()
    fleet.cpu("d", 2.0)  # a new event only the survivor can report
    got = receiver.wait_for(4, timeout=15)
    # Takeover within one interval, then one evaluation and the delivery.
    assert got[3].at - killed < INTERVAL + 1.0 + 3.0
    assert "became leader" in fleet.log(follower)
    time.sleep(6 * INTERVAL)
    assert sorted(statuses(receiver)) == [
        ("a", "firing"),
        ("b", "firing"),
        ("c", "firing"),
        ("d", "firing"),
    ]
