"""Fixtures for the shared store suite: one fresh store per test, for every store kind."""

from __future__ import annotations

import gc
import uuid
import warnings
from collections.abc import Iterator

import httpx
import pytest

from fleetmon_db.timeseries import NS, TimeSeriesStore, open_store
from fleetmon_db.timeseries.tiers import HOUR
from tests.conftest import server_missing
from tests.support.servers import InfluxServer, ServerMissing, start_influxd

STORE_KINDS = ["influxdb", "sqlite", "postgresql"]
# Small rollup chunks, so that every catch-up in the suite crosses chunk boundaries.
CHUNKED = {"rollup_chunk_windows": 20}


class Clock:
    """An injected wall clock the test moves by hand."""

    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


def hour_now() -> int:
    """The start of the current hour: data the tests write stays inside InfluxDB's raw RP."""
    import time

    t = time.time_ns()
    return t - t % (HOUR * NS)


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """The session influxd, started with start_influxd's log-file warning silenced.

    start_influxd hands its log file to the child and drops the Python object without
    closing it; under warnings-as-errors that ResourceWarning would fail the first test.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            server = start_influxd(tmp_path_factory.mktemp("influxd"))
            gc.collect()
    except ServerMissing as exc:
        server_missing(exc)
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    """The clock every store in a test uses, starting at the current hour."""
    return Clock(hour_now())


@pytest.fixture(params=STORE_KINDS)
def store(
    request: pytest.FixtureRequest, clock: Clock, tmp_path: object
) -> Iterator[TimeSeriesStore]:
    """A fresh, empty store with its schema: a new database, file or table prefix per test."""
    kind = request.param
    tag = uuid.uuid4().hex[:10]
    cleanup = None
    if kind == "influxdb":
        server = request.getfixturevalue("influx_server")
        db = f"t_{tag}"
        s = open_store(f"{server.url}/{db}", clock=clock, **CHUNKED)

        def cleanup() -> None:
            httpx.post(f"{server.url}/query", data={"q": f'DROP DATABASE "{db}"'}, timeout=10)

    elif kind == "sqlite":
        s = open_store(f"sqlite:///{tmp_path}/ts.db", clock=clock, **CHUNKED)
    else:
        s = open_store(
            request.getfixturevalue("pg_url"), clock=clock, table_prefix=f"t{tag}_", **CHUNKED
        )
    try:
        s.ensure_schema()
        yield s
    finally:
        s.close()
        if cleanup is not None:
            cleanup()
