"""Fixtures for the alert worker tests: a migrated metadata DB, a fake clock, receivers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.migrate import upgrade
from fleetmon_db.timeseries import TimeSeriesStore
from fleetmon_db.timeseries.factory import open_store
from tests.support.clock import FakeClock
from tests.support.receiver import Receiver
from tests.support.servers import InfluxServer


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


@pytest.fixture(params=["sqlite", "postgresql", "influxdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesStore]:
    """Each real time-series store, empty."""
    tag = uuid.uuid4().hex[:10]
    if request.param == "sqlite":
        ts = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    elif request.param == "postgresql":
        pg_url: str = request.getfixturevalue("pg_url")
        ts = open_store(pg_url, table_prefix=f"a{tag}_")
    else:
        influx: InfluxServer = request.getfixturevalue("influx_server")
        ts = open_store(f"{influx.url}/alerts_{tag}")
    ts.ensure_schema()
    yield ts
    ts.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[TimeSeriesStore]:
    """The embedded SQLite store only (for tests about logic, not about stores)."""
    ts = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    ts.ensure_schema()
    yield ts
    ts.close()
