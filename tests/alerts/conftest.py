"""Fixtures for the alert worker tests: a migrated metadata DB, a fake clock, receivers.

The `store` fixture (every store kind) is the suite-wide one in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.migrate import upgrade
from fleetmon_db.timeseries import TimeSeriesStore
from tests.support.clock import FakeClock
from tests.support.receiver import Receiver
from tests.support.stores import fresh_store


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
def clock() -> FakeClock:
    """A clock that moves only when the test says so."""
    # Near real time: InfluxDB drops points older than its retention policy.
    return FakeClock()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local HTTP endpoint that records what it receives."""
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def sqlite_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesStore]:
    """The embedded SQLite store only (for tests about logic, not about stores)."""
    with fresh_store("sqlite", request, tmp_path) as ts:
        yield ts
