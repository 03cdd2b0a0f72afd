"""What differs between SQLite and PostgreSQL in the SQL store: one small method per difference.

Hand-written SQL lives here (JSON access, upserts, per-dialect aggregates); everything
else is SQLAlchemy Core, which both dialects share. Table names come quoted by the
engine's identifier preparer; every value is a bound parameter.
"""

# ruff: noqa: S608  -- table names are quoted identifiers from a validated prefix
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import Subquery

from fleetmon_db.timeseries.model import Summary

RawRow = tuple[int, int, str]  # (group id, time ns, fields as JSON)


class Dialect:
    """The dialect-specific pieces; one subclass per supported database."""

    name: str
    # The DB-API parameter placeholder of the driver-level write statements.
    placeholder: str

    def engine_options(self, url: URL, pool_size: int) -> dict[str, Any]:
        """create_engine keyword arguments for `url`."""
        raise NotImplementedError

    def prepare(self, engine: Engine) -> None:
        """Configure every new connection of `engine`."""

    def unavailable(self, message: str) -> bool:
        """True when an OperationalError with this message means "retry later"."""
        raise NotImplementedError

    def insert(self, table: Table) -> Any:
        """An INSERT with this dialect's ON CONFLICT support."""
        raise NotImplementedError

    def raw_upsert(self, raw: str) -> str:
        """The driver-level upsert of raw rows (fields of one key are merged)."""
        raise NotImplementedError

    def raw_params(self, rows: list[RawRow]) -> Any:
        """The parameters of `raw_upsert` for rows."""
        raise NotImplementedError

    def raw_values(self, raw: str) -> str:
        """SELECT (sid, t, v): every numeric value of raw rows with :lo <= time < :hi."""
        raise NotImplementedError

    def series_value(self) -> str:
        """The numeric value of series ``s`` in raw row ``r``, else NULL."""
        raise NotImplementedError

    def host_in(self, hosts: Sequence[str]) -> tuple[str, BindParameter[Any]]:
        """``s.host`` among `hosts`, as one parameter whatever their number."""
        raise NotImplementedError

    def tag_equals(self, i: int, tag: str, value: str) -> tuple[str, list[BindParameter[Any]]]:
        """A condition that ``s.tags`` has `tag` = `value` ("" if it cannot be pushed down)."""
        raise NotImplementedError

    def last_per_series(self, value: str, src: str) -> str:
        """SELECT (id, host, tags, time, value) of each series' newest non-NULL value."""
        raise NotImplementedError

    def raw_summary(self, conn: Connection, values: Subquery) -> Summary | None:
        """Exact summary computed by the database, or None to compute it from the values."""
        return None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in (
        "journal_mode=WAL",  # readers never block the writer
        "synchronous=NORMAL",  # durable at checkpoints; safe with WAL
        "busy_timeout=30000",
        "temp_store=MEMORY",
        "cache_size=-65536",
        "foreign_keys=OFF",
    ):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


class SqliteDialect(Dialect):
    """SQLite (embedded, WAL): JSON1 functions, one writer at a time."""

    name = "sqlite"
    placeholder = "?"

    def engine_options(self, url: URL, pool_size: int) -> dict[str, Any]:
        """A static pool in memory; a file's directory is created."""
        if url.database in (None, "", ":memory:"):
            return {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}

    def prepare(self, engine: Engine) -> None:
        """WAL and friends on every connection."""
        event.listen(engine, "connect", _sqlite_pragmas)

    def unavailable(self, message: str) -> bool:
        """A locked or unopenable file is transient; other errors are the request's."""
        text = message.lower()
        return "locked" in text or "unable to open" in text

    def insert(self, table: Table) -> Any:
        """sqlite.insert."""
        return sqlite.insert(table)

    def raw_upsert(self, raw: str) -> str:
        """executemany; repeated (group, time) keys are merged by json_patch."""
        return (
            f"INSERT INTO {raw} (group_id, time_ns, fields) VALUES (?, ?, ?)"
            " ON CONFLICT (group_id, time_ns) DO UPDATE"
            f" SET fields = json_patch({raw}.fields, excluded.fields)"
        )

    def raw_params(self, rows: list[RawRow]) -> Any:
        """The rows as they are."""
        return rows

    def raw_values(self, raw: str) -> str:
        """json_each over each row's object."""
        return (
            "SELECT CAST(j.key AS INTEGER) AS sid, r.time_ns AS t, j.value AS v"
            f" FROM {raw} AS r, json_each(r.fields) AS j"
            " WHERE r.time_ns >= :lo AND r.time_ns < :hi AND j.type IN ('integer', 'real')"
        )

    def series_value(self) -> str:
        """json_extract at the series id's path."""
        path = "'$.\"' || s.id || '\"'"
        return (
            f"CASE WHEN json_type(r.fields, {path}) IN ('integer', 'real')"
            f" THEN json_extract(r.fields, {path}) END"
        )

    def host_in(self, hosts: Sequence[str]) -> tuple[str, BindParameter[Any]]:
        """The hosts as one JSON array parameter."""
        cond = "s.host IN (SELECT value FROM json_each(:hosts))"
        return cond, bindparam("hosts", json.dumps(sorted(set(hosts))))

    def tag_equals(self, i: int, tag: str, value: str) -> tuple[str, list[BindParameter[Any]]]:
        """json_extract at the tag's path; keys a path cannot quote are left to the caller."""
        if '"' in tag or "\\" in tag:
            return "", []
        params: list[BindParameter[Any]] = [
            bindparam(f"tp{i}", f'$."{tag}"'),
            bindparam(f"tv{i}", value),
        ]
        return f"json_extract(s.tags, :tp{i}) = :tv{i}", params

    def last_per_series(self, value: str, src: str) -> str:
        """SQLite takes bare columns from the row that holds the max()."""
        return (
            f"SELECT s.id, s.host, s.tags, max(r.time_ns), {value} AS v{src}"
            f" AND {value} IS NOT NULL GROUP BY s.id, s.host, s.tags"
        )


class PostgresDialect(Dialect):
    """PostgreSQL (psycopg 3): JSONB, arrays, percentile_cont."""

    name = "postgresql"
    placeholder = "%s"

    def engine_options(self, url: URL, pool_size: int) -> dict[str, Any]:
        """A checked pool of `pool_size`, and a connect timeout."""
        return {
            "pool_size": pool_size,
            "pool_pre_ping": True,
            "connect_args": {"connect_timeout": 5},
        }

    def unavailable(self, message: str) -> bool:
        """Every OperationalError (connection lost, server shutting down, ...)."""
        return True

    def insert(self, table: Table) -> Any:
        """postgresql.insert."""
        return postgresql.insert(table)

    def raw_upsert(self, raw: str) -> str:
        """One statement per batch: arrays unnested server-side beat executemany by far."""
        return (
            f"INSERT INTO {raw} (group_id, time_ns, fields)"
            " SELECT * FROM unnest(%s::integer[], %s::bigint[], %s::jsonb[])"
            " ON CONFLICT (group_id, time_ns) DO UPDATE"
            f" SET fields = {raw}.fields || excluded.fields"
        )

    def raw_params(self, rows: list[RawRow]) -> Any:
        """Three arrays, one row per key: PostgreSQL refuses to upsert a key twice per statement."""
        merged = _merge_rows(rows)
        return ([r[0] for r in merged], [r[1] for r in merged], [r[2] for r in merged])

    def raw_values(self, raw: str) -> str:
        """jsonb_each over each row's object."""
        return (
            "SELECT CAST(j.key AS INTEGER) AS sid, r.time_ns AS t,"
            " CAST(j.value #>> '{}' AS DOUBLE PRECISION) AS v"
            f" FROM {raw} AS r CROSS JOIN LATERAL jsonb_each(r.fields) AS j"
            " WHERE r.time_ns >= :lo AND r.time_ns < :hi AND jsonb_typeof(j.value) = 'number'"
        )

    def series_value(self) -> str:
        """The member keyed by the series id, if a number."""
        sid_text = "CAST(s.id AS TEXT)"
        return (
            f"CASE WHEN jsonb_typeof(r.fields -> {sid_text}) = 'number'"
            f" THEN CAST(r.fields ->> {sid_text} AS DOUBLE PRECISION) END"
        )

    def host_in(self, hosts: Sequence[str]) -> tuple[str, BindParameter[Any]]:
        """The hosts as one text array parameter."""
        return "s.host = ANY(CAST(:hosts AS TEXT[]))", bindparam("hosts", sorted(set(hosts)))

    def tag_equals(self, i: int, tag: str, value: str) -> tuple[str, list[BindParameter[Any]]]:
        """->> with the key as a parameter."""
        params: list[BindParameter[Any]] = [bindparam(f"tp{i}", tag), bindparam(f"tv{i}", value)]
        return f"(CAST(s.tags AS JSONB) ->> :tp{i}) = :tv{i}", params

    def last_per_series(self, value: str, src: str) -> str:
        """DISTINCT ON, newest first."""
        return (
            f"SELECT DISTINCT ON (s.id) s.id, s.host, s.tags, r.time_ns, {value} AS v{src}"
            f" AND {value} IS NOT NULL ORDER BY s.id, r.time_ns DESC"
        )

    def raw_summary(self, conn: Connection, values: Subquery) -> Summary | None:
        """count/avg/min/max and percentile_cont in one statement."""
        v = values.c.v
        row: Any
        (row,) = conn.execute(
            select(
                func.count(v),
                func.avg(v),
                func.min(v),
                func.max(v),
                func.percentile_cont(0.95).within_group(v),
                func.percentile_cont(0.99).within_group(v),
            )
        ).all()
        if not row[0]:
            return Summary(0, None, None, None, None, None)
        n, avg, mn, mx, p95, p99 = row
        return Summary(int(n), float(avg), float(mn), float(mx), float(p95), float(p99))


def _merge_rows(rows: list[RawRow]) -> list[RawRow]:
    """One row per (group, time), later fields winning."""
    seen: dict[tuple[int, int], int] = {}
    out: list[RawRow] = []
    for r in rows:
        i = seen.get((r[0], r[1]))
        if i is None:
            seen[(r[0], r[1])] = len(out)
            out.append(r)
        else:
            merged = {**json.loads(out[i][2]), **json.loads(r[2])}
            out[i] = (r[0], r[1], _dumps(merged))
    return out


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

DIALECTS: dict[str, Dialect] = {"sqlite": SqliteDialect(), "postgresql": PostgresDialect()}
