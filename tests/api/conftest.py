"""API fixtures: one server per store kind (InfluxDB, SQLite, PostgreSQL), started once."""

from __future__ import annotations

import contextlib
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


class ApiServers:
    """One API server per store kind, started when first asked for, for the whole session."""

    def __init__(
        self, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        self._request, self._tmp = request, tmp_path_factory
        self._servers: dict[str, ApiServer] = {}
        self._stack = contextlib.ExitStack()

    def get(self, kind: str) -> ApiServer:
        """The server on `kind` (metadata on PostgreSQL too for the PostgreSQL one)."""
        if kind not in self._servers:
            tmp = self._tmp.mktemp(f"api-{kind}")
            spec = self._stack.enter_context(store_spec(kind, self._request, tmp, url_only=True))
            db_url = (
                self._request.getfixturevalue("pg_url")
                if kind == "postgresql"
                else f"sqlite:///{tmp / 'meta.db'}"
            )
            self._servers[kind] = self._stack.enter_context(
                running_api(db_url, spec.url, **UNLIMITED)
            )
        return self._servers[kind]

    def close(self) -> None:
        """Stop every server and remove its store."""
        self._stack.close()


@pytest.fixture(scope="session")
def api_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServers]:
    """The session's API servers by store kind."""
    # Set up first, torn down last: the InfluxDB servers the stores live on.
    with contextlib.suppress(pytest.skip.Exception):
        request.getfixturevalue("influx_server")
    servers = ApiServers(request, tmp_path_factory)
    yield servers
    servers.close()


@pytest.fixture(scope="session", params=API_STORE_KINDS)
def api(request: pytest.FixtureRequest, api_servers: ApiServers) -> ApiServer:
    """An API server on each real store (metadata on PostgreSQL too for the PostgreSQL one)."""
    return api_servers.get(request.param)


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
