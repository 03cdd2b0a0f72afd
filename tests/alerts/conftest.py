"""Fixtures for the alert worker tests: a migrated metadata DB, a manual clock, receivers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts.clock import ManualClock
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.migrate import upgrade
from tests.alerts.receiver import Receiver


@pytest.fixture
def meta_url(tmp_path: Path) -> str:
    """A migrated SQLite metadata database."""
    url = f"sqlite:///{tmp_path / 'fleetmon.db'}"
    upgrade(url)
    return url


@pytest.fixture
def sessions(meta_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the metadata database."""
    engine = make_engine(meta_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when the test says so."""
    return ManualClock()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local HTTP endpoint that records what it receives."""
    r = Receiver().start()
    yield r
    r.stop()
