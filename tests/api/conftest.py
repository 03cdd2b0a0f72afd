"""API fixtures: one server per store kind (SQLite, PostgreSQL, InfluxDB), started once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.harness import ApiServer, running_api
from tests.support.servers import InfluxServer

STORES = ["sqlite", "postgres", "influx"]
# Rate limits get their own servers; the shared ones must not throttle the other tests.
UNLIMITED: dict[str, Any] = {
    "ingest_rate_limit": "100000/minute",
    "enroll_rate_limit": "100000/minute",
    "login_rate_limit": "100000/minute",
}


def store_urls(kind: str, tmp: Path, request: pytest.FixtureRequest) -> tuple[str, str]:
    """(metadata URL, store URL) for a store kind."""
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'meta.db'}", f"sqlite:///{tmp / 'metrics.db'}"
    if kind == "postgres":
        pg: str = request.getfixturevalue("pg_url")
        return pg, pg
    influx: InfluxServer = request.getfixturevalue("influx_server")
    return f"sqlite:///{tmp / 'meta.db'}", f"{influx.url}/fm_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session", params=STORES)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """An API server on each real store."""
    kind: str = request.param
    db_url, store_url = store_urls(kind, tmp_path_factory.mktemp(f"api-{kind}"), request)
    with running_api(db_url, store_url, **UNLIMITED) as server:
        yield server


@pytest.fixture(scope="session")
def sqlite_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """An API on SQLite only, for tests about the API rather than the store."""
    tmp = tmp_path_factory.mktemp("api-sqlite-only")
    with running_api(
        f"sqlite:///{tmp / 'meta.db'}",
        f"sqlite:///{tmp / 'metrics.db'}",
        ingest_rate_limit="100000/minute",
        enroll_rate_limit="100000/minute",
        login_rate_limit="100000/minute",
        max_points=100,
        max_body_bytes=200_000,
        max_decompressed_bytes=500_000,
        max_fields_per_point=10,
        max_tags_per_point=5,
    ) as server:
        yield server
