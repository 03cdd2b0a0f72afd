"""One way to get a fresh, empty time-series store of each kind on the real servers.

The `store` fixture (tests/conftest.py) is parametrised over STORE_KINDS through
`fresh_store`; the API tests, which configure a server process by URL, use `store_spec`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleetmon_db.timeseries import TimeSeriesStore, open_store
from tests.support.servers import InfluxServer, throwaway_pg_database

STORE_KINDS = ("influxdb", "sqlite", "postgresql")


@dataclass(frozen=True)
class StoreSpec:
    """Where a fresh store of one kind lives: its URL and the options that keep it apart."""

    kind: str
    url: str
    # open_store options (a table prefix of its own in the session's PostgreSQL database).
    options: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def store_spec(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, *, url_only: bool = False
) -> Iterator[StoreSpec]:
    """A place for a fresh store of `kind`, removed afterwards.

    `url_only`: everything is in the URL (for a process configured by URL alone), which
    on PostgreSQL costs a database of its own instead of a table prefix.
    """
    tag = uuid.uuid4().hex[:10]
    if kind == "influxdb":
        server: InfluxServer = request.getfixturevalue("influx_server")
        db = f"t_{tag}"
        try:
            yield StoreSpec(kind, f"{server.url}/{db}")
        finally:
            httpx.post(f"{server.url}/query", data={"q": f'DROP DATABASE "{db}"'}, timeout=10)
    elif kind == "sqlite":
        yield StoreSpec(kind, f"sqlite:///{tmp_path / f'ts-{tag}.db'}")
    elif kind == "postgresql":
        pg_url: str = request.getfixturevalue("pg_url")  # fails under CI if it is missing
        if url_only:
            with throwaway_pg_database("fleetmon_ts") as url:
                yield StoreSpec(kind, url)
        else:
            yield StoreSpec(kind, pg_url, {"table_prefix": f"t{tag}_"})
    else:
        raise ValueError(f"unknown store kind {kind!r}")


@contextlib.contextmanager
def fresh_store(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, **options: Any
) -> Iterator[TimeSeriesStore]:
    """A fresh, empty store of `kind` with its schema, closed and removed afterwards."""
    with store_spec(kind, request, tmp_path) as spec:
        store = open_store(spec.url, **spec.options, **options)
        try:
            store.ensure_schema()
            yield store
        finally:
            store.close()
