"""Fixtures for the shared store suite: an injected clock and small rollup chunks."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fleetmon_db.timeseries import NS
from fleetmon_db.timeseries.tiers import HOUR
from tests.support.clock import FakeClock

# Small rollup chunks, so that every catch-up in the suite crosses chunk boundaries.
CHUNKED: dict[str, Any] = {"rollup_chunk_windows": 20}


def hour_now() -> int:
    """The start of the current hour: data the tests write stays inside InfluxDB's raw RP."""
    t = time.time_ns()
    return t - t % (HOUR * NS)


@pytest.fixture
def clock() -> FakeClock:
    """The clock every store in a test uses, starting at the current hour."""
    return FakeClock(hour_now())


@pytest.fixture
def store_options(clock: FakeClock) -> dict[str, Any]:
    """Every store of the suite runs on the test's clock, with small rollup chunks."""
    return {"clock": clock.ns, **CHUNKED}
