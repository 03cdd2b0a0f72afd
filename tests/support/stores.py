"""One way to get a fresh, empty time-series store of each kind on the real servers.

The `store` fixture (tests/conftest.py) is parametrised over STORE_KINDS through
`fresh_store`; the API tests, which configure a server process by URL, use `store_spec`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleetmon_db.timeseries import TimeSeriesStore, open_store
from fleetmon_db.timeseries.tiers import DEFAULT_TIERS, Tier
from tests.support.influxemu import TOKEN, Emulator
from tests.support.servers import InfluxServer, throwaway_pg_database

# The InfluxDB kinds: influxd 1.6.7 itself, and InfluxDB 2.7 and 3.7+ emulated in front of
# it (tests/support/influxemu). FLEETMON_TEST_INFLUX picks some (comma-separated names).
INFLUX_KINDS = {
    "influxdb-1.6": "influxdb",
    "influxdb-2.7-emulated": "influxdb-2.7-emulated",
    "influxdb-3.7-emulated": "influxdb-3.7-emulated",
}
EMULATED = {"influxdb-2.7-emulated": "2.7", "influxdb-3.7-emulated": "3.7"}


def influx_kinds() -> tuple[str, ...]:
    """The InfluxDB kinds this run covers (all three unless FLEETMON_TEST_INFLUX says)."""
    names = os.environ.get("FLEETMON_TEST_INFLUX", ",".join(INFLUX_KINDS))
    try:
        return tuple(INFLUX_KINDS[n.strip()] for n in names.split(",") if n.strip())
    except KeyError as exc:
        raise ValueError(
            f"FLEETMON_TEST_INFLUX: unknown kind {exc}; known: {', '.join(INFLUX_KINDS)}"
        ) from None


# Every store kind of the shared store suite.
STORE_KINDS = (*influx_kinds(), "sqlite", "postgresql")
# The API suite starts a server per kind: InfluxDB through 1.6.7 only (the emulations are
# covered by the store suite and by the tests that ask for them).
API_STORE_KINDS = ("influxdb", "sqlite", "postgresql")


@dataclass(frozen=True)
class StoreSpec:
    """Where a fresh store of one kind lives: its URL and the options that keep it apart."""

    kind: str
    url: str
    # open_store options (a table prefix of its own in the session's PostgreSQL database).
    options: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def store_spec(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    *,
    url_only: bool = False,
    tiers: tuple[Tier, ...] = DEFAULT_TIERS,
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
    elif kind in EMULATED:
        server = request.getfixturevalue("influx_server")
        emulator: Emulator = request.getfixturevalue(f"influx_{EMULATED[kind].replace('.', '')}")
        db = f"t_{tag}"
        if EMULATED[kind] == "2.7":
            provision_v2_buckets(server.url, emulator.url, db, tiers)
        try:
            yield StoreSpec(kind, f"{emulator.url}/{db}?token={TOKEN}")
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


def provision_v2_buckets(
    backend_url: str, emulator_url: str, db: str, tiers: tuple[Tier, ...]
) -> None:
    """What a 2.7 deployment does (deploy/influxdb-init.sh): a bucket `db/<tier>` per tier
    with its retention, and the default DBRP mapping of `db` to the raw bucket."""
    stmts = [f'CREATE DATABASE "{db}"'] + [
        f'CREATE RETENTION POLICY "{t.name}" ON "{db}" DURATION {t.retention_s}s REPLICATION 1'
        + (" DEFAULT" if t.is_raw else "")
        for t in tiers
    ]
    httpx.post(f"{backend_url}/query", data={"q": ";".join(stmts)}, timeout=10).raise_for_status()
    raw = tiers[0].name
    httpx.post(
        f"{emulator_url}/api/v2/dbrps",
        json={"database": db, "retention_policy": raw, "default": True, "bucketID": ""},
        headers={"Authorization": f"Token {TOKEN}"},
        timeout=10,
    ).raise_for_status()


@contextlib.contextmanager
def fresh_store(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, **options: Any
) -> Iterator[TimeSeriesStore]:
    """A fresh, empty store of `kind` with its schema, closed and removed afterwards."""
    tiers = tuple(options.get("tiers", DEFAULT_TIERS))
    with store_spec(kind, request, tmp_path, tiers=tiers) as spec:
        store = open_store(spec.url, **spec.options, **options)
        try:
            store.ensure_schema()
            yield store
        finally:
            store.close()
