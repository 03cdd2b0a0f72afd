"""Session fixtures that start (or reach) the real servers the suite runs against."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetmon_db.timeseries import TimeSeriesStore
from tests.support.influxemu import Emulator, start_emulator
from tests.support.servers import (
    REDIS_URL,
    InfluxServer,
    ServerMissing,
    redis_available,
    start_influxd,
    throwaway_pg_database,
)
from tests.support.stores import STORE_KINDS, fresh_store

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def server_missing(exc: ServerMissing) -> None:
    """Fail under CI (a missing server must never pass silently); skip on a developer box."""
    if IN_CI:
        pytest.fail(f"required test server missing under CI: {exc}", pytrace=False)
    pytest.skip(str(exc))


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """A throwaway influxd for the whole session."""
    try:
        server = start_influxd(tmp_path_factory.mktemp("influxd"))
    except ServerMissing as exc:
        server_missing(exc)
    yield server
    server.stop()


def _emulator(version: str, request: pytest.FixtureRequest) -> Iterator[Emulator]:
    server: InfluxServer = request.getfixturevalue("influx_server")
    emulator = start_emulator(version, server.url)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def influx_27(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """InfluxDB 2.7.12 emulated in front of the session's influxd (tests/support/influxemu)."""
    yield from _emulator("2.7", request)


@pytest.fixture(scope="session")
def influx_37(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """InfluxDB 3.7 emulated in front of the session's influxd (tests/support/influxemu)."""
    yield from _emulator("3.7", request)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of a throwaway PostgreSQL database for the whole session."""
    try:
        with throwaway_pg_database() as url:
            yield url
    except ServerMissing as exc:
        server_missing(exc)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the running Redis (tests use their own key prefixes)."""
    try:
        redis_available()
    except ServerMissing as exc:
        server_missing(exc)
    return REDIS_URL


@pytest.fixture
def store_options() -> dict[str, Any]:
    """open_store options for the `store` fixture (a test directory may override it)."""
    return {}


@pytest.fixture(params=STORE_KINDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, store_options: dict[str, Any]
) -> Iterator[TimeSeriesStore]:
    """A fresh, empty store of each kind (InfluxDB 1.6.7 and the 2.7 and 3.7 emulations,
    SQLite, PostgreSQL) with its schema."""
    with fresh_store(request.param, request, tmp_path, **store_options) as s:
        yield s
