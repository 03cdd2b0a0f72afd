"""The SQL store's database: engine, dialect, tables, and errors in the contract's terms."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Table, create_engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, make_url

from fleetmon_db.timeseries.model import StoreError, StoreUnavailable
from fleetmon_db.timeseries.sql.dialect import DIALECTS, Dialect
from fleetmon_db.timeseries.sql.schema import Tables


class Database:
    """One engine on SQLite or PostgreSQL with the store's tables."""

    def __init__(self, url: str, *, table_prefix: str, pool_size: int, echo: bool) -> None:
        self.tables = Tables.define(table_prefix)
        sa_url = make_url(url)
        dialect = DIALECTS.get(sa_url.get_backend_name())
        if dialect is None:
            raise ValueError(
                f"SQL store supports sqlite and postgresql, not {sa_url.get_backend_name()}"
            )
        self.dialect: Dialect = dialect
        self.name = dialect.name
        self.engine: Engine = create_engine(
            sa_url, echo=echo, **dialect.engine_options(sa_url, pool_size)
        )
        dialect.prepare(self.engine)

    def quote(self, table: Table) -> str:
        """The table's name quoted for hand-written SQL."""
        return str(self.engine.dialect.identifier_preparer.quote(table.name))

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Database errors as StoreUnavailable (retry later) or StoreError."""
        try:
            yield
        except (sa_exc.InterfaceError, sa_exc.TimeoutError, sa_exc.DisconnectionError) as exc:
            raise StoreUnavailable(f"{self.name} store unavailable: {exc}") from exc
        except sa_exc.OperationalError as exc:
            if self.dialect.unavailable(str(exc.orig)):
                raise StoreUnavailable(f"{self.name} store unavailable: {exc.orig}") from exc
            raise StoreError(f"{self.name} store error: {exc.orig}") from exc
        except sa_exc.SQLAlchemyError as exc:
            raise StoreError(f"{self.name} store error: {exc}") from exc

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads, errors translated."""
        with self.errors(), self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        """A transaction, errors translated."""
        with self.errors(), self.engine.begin() as conn:
            yield conn

    def create_tables(self) -> None:
        """Create the tables if missing.

        Several processes may do this at once (`fleetmon serve --workers N` on a fresh data
        directory): one's CREATE can lose to another's between the check and the create, so
        a table that already exists by then means: look again (a second pass finds it)."""
        for attempt in range(CREATE_ATTEMPTS):
            try:
                with self.errors():
                    self.tables.metadata.create_all(self.engine)
                return
            except StoreError as exc:
                if attempt + 1 == CREATE_ATTEMPTS or not _lost_create_race(exc):
                    raise

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()


CREATE_ATTEMPTS = 3


def _lost_create_race(exc: StoreError) -> bool:
    # SQLite: "table x already exists"; PostgreSQL: "relation x already exists" or the
    # type catalogue's unique index when both CREATEs run at once.
    text = str(exc)
    return "already exists" in text or "pg_type_typname_nsp_index" in text


def rows(conn: Connection, stmt: Any) -> list[Any]:
    """Result rows as plain tuples (typed loosely: the columns are known from `stmt`)."""
    return [tuple(r) for r in conn.execute(stmt)]
