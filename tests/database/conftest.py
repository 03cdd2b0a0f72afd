"""Fixtures for the shared store suite: one fresh store per test, for every store kind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fleetmon_db.timeseries import NS, TimeSeriesStore, open_store
from fleetmon_db.timeseries.tiers import HOUR
from tests.support.clock import FakeClock

STORE_KINDS = ["influxdb", "sqlite", "postgresql"]
# Small rollup chunks, so that every catch-up in the suite crosses chunk boundaries.
CHUNKED: dict[str, Any] = {"rollup_chunk_windows": 20}


def hour_now() -> int:
    """The start of the current hour: data the tests write stays inside InfluxDB's raw RP."""
    import time

    t = time.time_ns()
    return t - t % (HOUR * NS)


@pytest.fixture
def clock() -> FakeClock:
    """The clock every store in a test uses, starting at the current hour."""
    return FakeClock(hour_now())


@pytest.fixture(params=STORE_KINDS)
def store(
    request: pytest.FixtureRequest, clock: FakeClock, tmp_path: object
) -> Iterator[TimeSeriesStore]:
    """A fresh, empty store with its schema: a new database, file or table prefix per test."""
    kind = request.param
    tag = uuid.uuid4().hex[:10]
    cleanup = None
    if kind == "influxdb":
        server = request.getfixturevalue("influx_server")
        db = f"t_{tag}"
        s = open_store(f"{server.url}/{db}", clock=clock.ns, **CHUNKED)

        def cleanup() -> None:
            httpx.post(f"{server.url}/query", data={"q": f'DROP DATABASE "{db}"'}, timeout=10)

    elif kind == "sqlite":
        s = open_store(f"sqlite:///{tmp_path}/ts.db", clock=clock.ns, **CHUNKED)
    else:
        s = open_store(
            request.getfixturevalue("pg_url"), clock=clock.ns, table_prefix=f"t{tag}_", **CHUNKED
        )
    try:
        s.ensure_schema()
        yield s
    finally:
        s.close()
        if cleanup is not None:
            cleanup()
