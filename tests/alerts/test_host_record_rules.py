"""The default data_loss and clock_skew rules fire from what the API keeps per host (its
LossBook, flushed to the database), and resolve once the host is healthy again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts.defaults import DEFAULT_RULES
from fleetmon_alerts.evaluate import Evaluator
from fleetmon_api.losses import LossBook
from fleetmon_api.telemetry import Telemetry
from fleetmon_db.models import Host
from fleetmon_db.timeseries import TimeSeriesStore
from tests.alerts.helpers import add_host, add_rule
from tests.support.clock import FakeClock


def _default(name: str) -> dict[str, Any]:
    return next(dict(r) for r in DEFAULT_RULES if r["name"] == name)


def _ids(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as s:
        return {h.name: h.id for h in s.scalars(select(Host))}


def test_losing_data_fires_while_counts_grow_and_resolves_after(
    sessions: sessionmaker[Session], sqlite_store: TimeSeriesStore, clock: FakeClock
) -> None:
    for name in ("lossy", "healthy", "refused"):
        add_host(sessions, name, last_seen=clock.now())
    add_rule(sessions, **_default("Host losing data"))
    ids = _ids(sessions)
    book = LossBook(sessions, clock.now, Telemetry())
    ev = Evaluator(sessions, sqlite_store, clock)

    book.agent_report(ids["healthy"], {}, 0, 0, 0.1)
    book.agent_report(ids["lossy"], {"spool_full": 920}, 920, 0, 0.0)
    book.refused(ids["refused"], "too_old", 40)
    book.flush()
    fired = {(d.host, d.to_status, d.value) for d in ev.run_once()}
    assert fired == {("lossy", "firing", 920.0), ("refused", "firing", 40.0)}

    # The same cumulative count again: nothing new is lost; the alert holds for
    # keep_firing_for (10 min) after the last growth, then resolves.
    clock.advance(300)
    book.agent_report(ids["lossy"], {"spool_full": 920}, 920, 0, 0.0)
    book.flush()
    assert ev.run_once() == []
    clock.advance(301)  # the growth is now older than the window
    assert ev.run_once() == []
    clock.advance(600)
    resolved = {(d.host, d.to_status) for d in ev.run_once()}
    assert resolved == {("lossy", "resolved"), ("refused", "resolved")}


def test_clock_off_warns_past_30s_and_resolves_once_corrected(
    sessions: sessionmaker[Session], sqlite_store: TimeSeriesStore, clock: FakeClock
) -> None:
    for name in ("ahead", "behind", "fine"):
        add_host(sessions, name, last_seen=clock.now())
    add_rule(sessions, **_default("Host clock off"))
    ids = _ids(sessions)
    book = LossBook(sessions, clock.now, Telemetry())
    ev = Evaluator(sessions, sqlite_store, clock)

    book.agent_report(ids["ahead"], {}, 0, 0, -900.0)  # the host's clock 15 min ahead
    book.agent_report(ids["behind"], {}, 0, 0, 8 * 86400.0)
    book.agent_report(ids["fine"], {}, 0, 0, 29.0)
    book.flush()
    assert {(d.host, d.to_status) for d in ev.run_once()} == {
        ("ahead", "pending"),
        ("behind", "pending"),
    }
    clock.advance(120)
    got = {(d.host, d.to_status, d.value) for d in ev.run_once()}
    assert got == {("ahead", "firing", 900.0), ("behind", "firing", 8 * 86400.0)}
    clock.advance(10)
    book.agent_report(ids["ahead"], {}, 0, 0, 0.4)
    book.flush()
    assert {(d.host, d.to_status) for d in ev.run_once()} == {("ahead", "resolved")}
