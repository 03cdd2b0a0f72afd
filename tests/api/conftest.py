"""API fixtures: one server per store kind (InfluxDB, SQLite, PostgreSQL), started once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.harness import ApiServer, running_api
from tests.support.stores import API_STORE_KINDS, store_spec

# Rate limits get their own servers; the shared ones must not throttle the other tests.
UNLIMITED: dict[str, Any] = {
    "ingest_rate_limit": "100000/minute",
    "enroll_rate_limit": "100000/minute",
    "login_rate_limit": "100000/minute",
    "auth_failure_rate_limit": "100000/minute",
}


@pytest.fixture(scope="session", params=API_STORE_KINDS)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """An API server on each real store (metadata on PostgreSQL too for the PostgreSQL one)."""
    kind: str = request.param
    tmp = tmp_path_factory.mktemp(f"api-{kind}")
    with store_spec(kind, request, tmp, url_only=True) as spec:
        db_url = (
            request.getfixturevalue("pg_url")
            if kind == "postgresql"
            else f"sqlite:///{tmp / 'meta.db'}"
        )
        with running_api(db_url, spec.url, **UNLIMITED) as server:
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
        auth_failure_rate_limit="100000/minute",
        max_points=100,
        max_body_bytes=200_000,
        max_decompressed_bytes=500_000,
        max_fields_per_point=10,
        max_tags_per_point=5,
    ) as server:
        yield server
