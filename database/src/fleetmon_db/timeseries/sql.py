"""SQL time-series store on SQLAlchemy Core: SQLite (embedded, WAL) and PostgreSQL (psycopg 3).

Schema (every table name carries a configurable prefix, ``ts_`` by default):

- ``series``: the dictionary of series (id, host, measurement, field, tags as canonical
  JSON), unique on all four; ids are never reused or deleted, so caches stay valid.
- ``series_group``: (host, measurement, tags) of the points; each series belongs to one.
- ``raw``: one row per point, primary key (group_id, time_ns); the field values are a JSON
  object keyed by series id (``{"17": 3.2, "18": "text"}``), so the JSON paths the queries
  use are built from integers only. One row per point rather than per field value divides
  SQLite's per-row cost by the number of fields. Writes upsert and merge the objects
  (json_patch / jsonb ``||``), like InfluxDB merging fields of one series and timestamp: a
  retried batch leaves stored data unchanged.
- ``rollup``: (tier, series_id, bucket_ns) -> mean, vmin, vmax, vcount, vsum.
- ``latest``: the newest value of every series, maintained on write.
- ``rollup_state`` (watermark per tier) and ``rollup_dirty`` (windows to recompute).
"""

# ruff: noqa: S608  -- every spliced value goes through quoting (influxql.py) or is an int
from __future__ import annotations

import asyncio
import contextlib
import json
import operator
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    column,
    create_engine,
    delete,
    event,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.selectable import Subquery

from fleetmon_db.timeseries.base import (
    NS,
    Aggregate,
    FieldValue,
    Point,
    PointBatch,
    RangeQuery,
    RollupReport,
    Sample,
    Selector,
    SeriesData,
    SeriesKey,
    StoreError,
    StoreUnavailable,
    Summary,
    series_key,
)
from fleetmon_db.timeseries.compute import (
    RollupBucket,
    align_down,
    bucket_starts,
    fill,
    last_per_bucket,
    merge_ranges,
    rate_per_bucket,
    summary_of,
    summary_of_rollups,
    window_rate,
)
from fleetmon_db.timeseries.tiers import DEFAULT_TIERS, Tier, pick_tier, validate_tiers

_PREFIX = re.compile(r"^[a-z_][a-z0-9_]{0,30}$")
_INF = float("inf")
_NOT_NUMERIC = re.compile(r"[^0-9.e+\-,]")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
CacheKey = tuple[str, str, tuple[tuple[str, str], ...]]


def canonical_tags(tags: Mapping[str, str]) -> str:
    """Tags as canonical JSON (sorted keys, no spaces); the `host` key is not a tag."""
    return json.dumps(
        {k: tags[k] for k in sorted(tags) if k != "host"}, ensure_ascii=False, separators=(",", ":")
    )


_SQL_AGG: dict[Aggregate, Any] = {
    Aggregate.MEAN: func.avg,
    Aggregate.MIN: func.min,
    Aggregate.MAX: func.max,
    Aggregate.SUM: func.sum,
    Aggregate.COUNT: func.count,
}


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


def _int_sql(value: int) -> ColumnElement[Any]:
    # Bucket widths are inlined as integer literals: PostgreSQL only recognises the same
    # expression in SELECT and GROUP BY when it is textually identical, and two bind
    # parameters never are. Only Python ints get here, never user text.
    return literal_column(str(int(value)), BigInteger)


@dataclass
class _Batch:
    """What one pass over a batch of points produced."""

    rows: list[tuple[int, int, str]] = dataclass_field(default_factory=list)
    newest: dict[int, tuple[int, Point, tuple[str, ...]]] = dataclass_field(default_factory=dict)
    others: list[Point] = dataclass_field(default_factory=list)
    late: set[int] = dataclass_field(default_factory=set)
    unresolved: list[Point] = dataclass_field(default_factory=list)
    written: int = 0


def _slow_json_fields(fields: Mapping[str, FieldValue], keys: Mapping[str, str]) -> list[str]:
    """JSON members for fields with bools, strings or non-finite floats (skipped)."""
    parts = []
    for f, v in fields.items():
        if isinstance(v, bool):
            parts.append(keys[f] + ("1.0" if v else "0.0"))
        elif isinstance(v, float):
            if -_INF < v < _INF:
                parts.append(keys[f] + repr(v))
        elif isinstance(v, int):
            parts.append(keys[f] + repr(float(v)))
        elif isinstance(v, str):
            parts.append(keys[f] + _dumps(v))
    return parts


def _merge_rows(rows: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """One row per (group, time): PostgreSQL refuses to upsert one key twice per statement."""
    seen: dict[tuple[int, int], int] = {}
    out: list[tuple[int, int, str]] = []
    for r in rows:
        i = seen.get((r[0], r[1]))
        if i is None:
            seen[(r[0], r[1])] = len(out)
            out.append(r)
        else:
            merged = {**json.loads(out[i][2]), **json.loads(r[2])}
            out[i] = (r[0], r[1], _dumps(merged))
    return out


def _rows(conn: Connection, stmt: Any) -> list[Any]:
    """Result rows as plain tuples (typed loosely: the columns are known from `stmt`)."""
    return [tuple(r) for r in conn.execute(stmt)]


class SqlStore:
    """TimeSeriesStore on SQLite or PostgreSQL."""

    def __init__(
        self,
        url: str,
        *,
        tiers: Sequence[Tier] = DEFAULT_TIERS,
        table_prefix: str = "ts_",
        clock: Callable[[], int] = time.time_ns,
        rollup_delay_s: int = 60,
        rollup_chunk_windows: int = 288,
        pool_size: int = 5,
        echo: bool = False,
    ) -> None:
        validate_tiers(tiers)
        if not _PREFIX.match(table_prefix):
            raise ValueError(f"table_prefix {table_prefix!r}: lowercase letters, digits, _")
        for t in tiers:
            if not re.fullmatch(r"[A-Za-z0-9_]{1,32}", t.name):
                raise ValueError(f"tier name {t.name!r}: letters, digits, _ (at most 32)")
        self.tiers = tuple(tiers)
        self._clock = clock
        self._delay_ns = rollup_delay_s * NS
        self._chunk_windows = max(1, rollup_chunk_windows)
        sa_url = make_url(url)
        kwargs: dict[str, Any] = {"echo": echo}
        if sa_url.get_backend_name() == "sqlite":
            memory = sa_url.database in (None, "", ":memory:")
            if memory:
                kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
            else:
                Path(str(sa_url.database)).parent.mkdir(parents=True, exist_ok=True)
                kwargs.update(connect_args={"timeout": 30, "check_same_thread": False})
        else:
            kwargs.update(pool_size=pool_size, pool_pre_ping=True)
            if sa_url.get_backend_name() == "postgresql":
                kwargs["connect_args"] = {"connect_timeout": 5}
        self._engine: Engine = create_engine(sa_url, **kwargs)
        self.dialect = self._engine.dialect.name
        if self.dialect == "sqlite":
            event.listen(self._engine, "connect", _sqlite_pragmas)
        elif self.dialect != "postgresql":
            self._engine.dispose()
            raise ValueError(f"SQL store supports sqlite and postgresql, not {self.dialect}")
        self.name = self.dialect
        self._define(table_prefix)
        # (host, measurement, tag items) ->
        #   (group id, field -> '"sid":', field -> sid, field names -> their '"sid":' keys)
        self._ids: dict[
            CacheKey,
            tuple[int, dict[str, str], dict[str, int], dict[tuple[str, ...], tuple[str, ...]]],
        ] = {}
        self._prepare_sql()

    # -- schema ---------------------------------------------------------------------------

    def _define(self, p: str) -> None:
        md = self._md = MetaData()
        self.t_series = Table(
            f"{p}series",
            md,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("host", Text, nullable=False),
            Column("measurement", Text, nullable=False),
            Column("field", Text, nullable=False),
            Column("tags", Text, nullable=False),
            Column("group_id", Integer, nullable=False),
            UniqueConstraint("host", "measurement", "field", "tags", name=f"{p}series_key"),
            Index(f"{p}series_metric", "measurement", "field"),
        )
        self.t_group = Table(
            f"{p}series_group",
            md,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("host", Text, nullable=False),
            Column("measurement", Text, nullable=False),
            Column("tags", Text, nullable=False),
            UniqueConstraint("host", "measurement", "tags", name=f"{p}series_group_key"),
        )
        self.t_raw = Table(
            f"{p}raw",
            md,
            Column("group_id", Integer, primary_key=True, autoincrement=False),
            Column("time_ns", BigInteger, primary_key=True, autoincrement=False),
            Column("fields", Text().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
            Index(f"{p}raw_time", "time_ns"),  # rollups and retention scan by time
            sqlite_with_rowid=False,
        )
        self.t_rollup = Table(
            f"{p}rollup",
            md,
            Column("tier", String(32), primary_key=True),
            Column("series_id", Integer, primary_key=True, autoincrement=False),
            Column("bucket_ns", BigInteger, primary_key=True, autoincrement=False),
            Column("mean", Double, nullable=False),
            Column("vmin", Double, nullable=False),
            Column("vmax", Double, nullable=False),
            Column("vcount", BigInteger, nullable=False),
            Column("vsum", Double, nullable=False),
            Index(f"{p}rollup_time", "tier", "bucket_ns"),
            sqlite_with_rowid=False,
        )
        self.t_latest = Table(
            f"{p}latest",
            md,
            Column("series_id", Integer, primary_key=True, autoincrement=False),
            Column("time_ns", BigInteger, nullable=False),
            Column("value", Double),
            Column("svalue", Text),
        )
        self.t_state = Table(
            f"{p}rollup_state",
            md,
            Column("tier", String(32), primary_key=True),
            Column("watermark_ns", BigInteger, nullable=False),
        )
        self.t_dirty = Table(
            f"{p}rollup_dirty",
            md,
            Column("tier", String(32), primary_key=True),
            Column("bucket_ns", BigInteger, primary_key=True, autoincrement=False),
        )

    def _prepare_sql(self) -> None:
        """Driver-level statements for the write path (bound parameters, executemany)."""
        q = self._engine.dialect.identifier_preparer.quote
        ph = "?" if self.dialect == "sqlite" else "%s"
        raw, latest, series, dirty, group = (
            q(t.name)
            for t in (self.t_raw, self.t_latest, self.t_series, self.t_dirty, self.t_group)
        )
        self._raw_q = raw
        if self.dialect == "sqlite":
            self._sql_raw = (
                f"INSERT INTO {raw} (group_id, time_ns, fields) VALUES (?, ?, ?)"
                " ON CONFLICT (group_id, time_ns) DO UPDATE"
                f" SET fields = json_patch({raw}.fields, excluded.fields)"
            )
        else:
            # One statement per batch: arrays unnested server-side beat executemany by far.
            self._sql_raw = (
                f"INSERT INTO {raw} (group_id, time_ns, fields)"
                " SELECT * FROM unnest(%s::integer[], %s::bigint[], %s::jsonb[])"
                " ON CONFLICT (group_id, time_ns) DO UPDATE"
                f" SET fields = {raw}.fields || excluded.fields"
            )
        self._sql_group = (
            f"INSERT INTO {group} (host, measurement, tags)"
            f" VALUES ({ph}, {ph}, {ph}) ON CONFLICT DO NOTHING"
        )
        self._sql_latest = (
            f"INSERT INTO {latest} (series_id, time_ns, value, svalue)"
            f" VALUES ({ph}, {ph}, {ph}, {ph})"
            " ON CONFLICT (series_id) DO UPDATE SET time_ns = excluded.time_ns,"
            " value = excluded.value, svalue = excluded.svalue"
            f" WHERE excluded.time_ns >= {latest}.time_ns"
        )
        self._sql_series = (
            f"INSERT INTO {series} (host, measurement, field, tags, group_id)"
            f" VALUES ({ph}, {ph}, {ph}, {ph}, {ph}) ON CONFLICT DO NOTHING"
        )
        self._sql_dirty = (
            f"INSERT INTO {dirty} (tier, bucket_ns) VALUES ({ph}, {ph}) ON CONFLICT DO NOTHING"
        )

    def _insert(self, table: Table) -> Any:
        return (sqlite.insert if self.dialect == "sqlite" else postgresql.insert)(table)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (sa_exc.InterfaceError, sa_exc.TimeoutError, sa_exc.DisconnectionError) as exc:
            raise StoreUnavailable(f"{self.name} store unavailable: {exc}") from exc
        except sa_exc.OperationalError as exc:
            text = str(exc.orig).lower()
            if self.dialect == "postgresql" or "locked" in text or "unable to open" in text:
                raise StoreUnavailable(f"{self.name} store unavailable: {exc.orig}") from exc
            raise StoreError(f"{self.name} store error: {exc.orig}") from exc
        except sa_exc.SQLAlchemyError as exc:
            raise StoreError(f"{self.name} store error: {exc}") from exc

    def ensure_schema(self) -> None:
        """Create the tables if missing."""
        with self._errors():
            self._md.create_all(self._engine)

    def ping(self) -> None:
        """Run a trivial query."""
        with self._errors(), self._engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def close(self) -> None:
        """Dispose of the connection pool."""
        self._engine.dispose()

    # -- writes ----------------------------------------------------------------------------

    def _build(self, points: Sequence[Point], late_before: int | None, window_ns: int) -> _Batch:
        """Raw rows (JSON built by hand: ints and reprs only), latest values, late windows."""
        b = _Batch()
        rows = b.rows
        append = rows.append
        newest = b.newest
        cache = self._ids
        add = operator.add
        # As in the line-protocol encoder: reprs of finite floats and ints are valid JSON
        # numbers, and one regex over the batch proves that no value needs the slow path.
        all_reprs = [list(map(repr, p.fields.values())) for p in points]
        batch_ok = _NOT_NUMERIC.search(",".join(map(",".join, all_reprs))) is None
        for p, reprs in zip(points, all_reprs, strict=True):
            ent = cache.get((p.host, p.measurement, tuple(p.tags.items())))
            if ent is None:
                b.unresolved.append(p)
                continue
            gid, keys, _, shapes = ent
            names = tuple(p.fields)
            if batch_ok or _NOT_NUMERIC.search(",".join(reprs)) is None:
                shape = shapes.get(names)
                if shape is None:
                    try:
                        shape = shapes[names] = tuple(keys[f] for f in names)
                    except KeyError:
                        b.unresolved.append(p)
                        continue
                body = ",".join(map(add, shape, reprs))
                n = len(reprs)
            else:
                try:
                    parts = _slow_json_fields(p.fields, keys)
                except KeyError:
                    b.unresolved.append(p)
                    continue
                body = ",".join(parts)
                n = len(parts)
            if not n:
                continue
            b.written += n
            t = p.time_ns
            append((gid, t, "{" + body + "}"))
            # Latest values: the newest point per group; points with another field set
            # (sparse fields) are kept aside and merged per field at the end.
            cur = newest.get(gid)
            if cur is None:
                newest[gid] = (t, p, names)
            elif t >= cur[0]:
                if names != cur[2]:
                    b.others.append(cur[1])
                newest[gid] = (t, p, names)
            elif names != cur[2]:
                b.others.append(p)
            if late_before is not None and t < late_before:
                b.late.add(t - t % window_ns)
        return b

    def _latest_rows(self, batches: Sequence[_Batch]) -> list[tuple[Any, ...]]:
        best: dict[int, tuple[Any, ...]] = {}
        inf = _INF
        for b in batches:
            for p in [p for _, p, _ in b.newest.values()] + b.others:
                _, _, sids, _ = self._ids[(p.host, p.measurement, tuple(p.tags.items()))]
                t = p.time_ns
                for f, v in p.fields.items():
                    tv = type(v)
                    if tv is str:
                        row: tuple[Any, ...] = (sids[f], t, None, v)
                    elif tv is float or tv is int or tv is bool:
                        if not -inf < v < inf:  # type: ignore[operator]
                            continue
                        row = (sids[f], t, float(v), None)
                    else:
                        continue
                    cur = best.get(row[0])
                    if cur is None or t >= cur[1]:
                        best[row[0]] = row
        return list(best.values())

    def _resolve(self, points: Sequence[Point]) -> None:
        """Create missing groups and series rows and load their ids into the cache."""
        groups = {(p.host, p.measurement, canonical_tags(p.tags)) for p in points}
        hosts = sorted({g[0] for g in groups})
        g, s = self.t_group, self.t_series
        gid_of: dict[tuple[str, str, str], int] = {}
        sid_of: dict[tuple[str, str, str, str], int] = {}
        with self._engine.begin() as conn:
            conn.exec_driver_sql(self._sql_group, sorted(groups))
            for i in range(0, len(hosts), 500):
                stmt = select(g.c.id, g.c.host, g.c.measurement, g.c.tags).where(
                    g.c.host.in_(hosts[i : i + 500])
                )
                for r in conn.execute(stmt):
                    gid_of[(r.host, r.measurement, r.tags)] = r.id
            needed = {
                (p.host, p.measurement, f, tj, gid_of[(p.host, p.measurement, tj)])
                for p in points
                for tj in (canonical_tags(p.tags),)
                for f in p.fields
            }
            conn.exec_driver_sql(self._sql_series, sorted(needed))
            for i in range(0, len(hosts), 500):
                stmt2 = select(s.c.id, s.c.host, s.c.measurement, s.c.field, s.c.tags).where(
                    s.c.host.in_(hosts[i : i + 500])
                )
                for r in conn.execute(stmt2):
                    sid_of[(r.host, r.measurement, r.field, r.tags)] = r.id
        for p in points:
            tj = canonical_tags(p.tags)
            ck = (p.host, p.measurement, tuple(p.tags.items()))
            ent = self._ids.get(ck)
            if ent is None:
                ent = self._ids[ck] = (gid_of[(p.host, p.measurement, tj)], {}, {}, {})
            for f in p.fields:
                sid = sid_of[(p.host, p.measurement, f, tj)]
                ent[1][f] = f'"{sid}":'
                ent[2][f] = sid

    def write_batch(self, batch: PointBatch) -> int:
        """`write` for a flat batch."""
        return self.write(batch.points())

    async def awrite_batch(self, batch: PointBatch) -> int:
        """`write_batch` in a worker thread: the database drivers block."""
        return await asyncio.to_thread(self.write_batch, batch)

    async def aclose(self) -> None:
        """Nothing to release: `awrite_batch` uses the same engine as everything else."""

    def write(self, points: Sequence[Point]) -> int:
        """Upsert one row per point, the latest table, and dirty marks for late points."""
        window_ns = self.tiers[1].resolution_s * NS if len(self.tiers) > 1 else 0
        late_before = align_down(self._clock() - self._delay_ns, window_ns) if window_ns else None
        with self._errors():
            batches = [self._build(points, late_before, window_ns)]
            if batches[0].unresolved:
                self._resolve(batches[0].unresolved)
                batches.append(self._build(batches[0].unresolved, late_before, window_ns))
                if batches[1].unresolved:
                    raise StoreError("series ids could not be resolved")
            rows = [r for b in batches for r in b.rows]
            if not rows:
                return 0
            late = set().union(*(b.late for b in batches))
            with self._engine.begin() as conn:
                if late:
                    tier = self.tiers[1].name
                    conn.exec_driver_sql(self._sql_dirty, [(tier, w) for w in sorted(late)])
                if self.dialect == "sqlite":
                    # Repeated (group, time) keys are merged by the upsert's json_patch.
                    conn.exec_driver_sql(self._sql_raw, rows)
                else:
                    merged = _merge_rows(rows)
                    conn.exec_driver_sql(
                        self._sql_raw,
                        ([r[0] for r in merged], [r[1] for r in merged], [r[2] for r in merged]),
                    )
                conn.exec_driver_sql(self._sql_latest, self._latest_rows(batches))
        return sum(b.written for b in batches)

    # -- reads -----------------------------------------------------------------------------

    def _key(self, host: str, measurement: str, field: str, tags: str) -> SeriesKey:
        return series_key(host, measurement, field, json.loads(tags))

    def _match(self, conn: Connection, sel: Selector) -> dict[int, tuple[SeriesKey, int]]:
        """Series id -> (key, group id) for a selector (tags are compared in Python, exactly)."""
        if sel.hosts is not None and not sel.hosts:
            return {}
        s = self.t_series
        stmt = select(s.c.id, s.c.host, s.c.measurement, s.c.field, s.c.tags, s.c.group_id).where(
            s.c.measurement == sel.measurement, s.c.field == sel.field
        )
        if sel.hosts is not None:
            stmt = stmt.where(s.c.host.in_(list(sel.hosts)))
        out = {}
        want = dict(sel.tags)
        for r in conn.execute(stmt):
            tags = json.loads(r.tags)
            if all(tags.get(k) == v for k, v in want.items()):
                out[r.id] = (series_key(r.host, r.measurement, r.field, tags), r.group_id)
        return out

    def _values(
        self, lo: int, hi: int, matched: Mapping[int, tuple[SeriesKey, int]] | None = None
    ) -> Subquery:
        """(sid, t, v): numeric raw values in [lo, hi), of the matched series or of all."""
        raw = self._raw_q
        if self.dialect == "sqlite":
            sql = (
                "SELECT CAST(j.key AS INTEGER) AS sid, r.time_ns AS t, j.value AS v"
                f" FROM {raw} AS r, json_each(r.fields) AS j"
                " WHERE r.time_ns >= :lo AND r.time_ns < :hi AND j.type IN ('integer', 'real')"
            )
        else:
            sql = (
                "SELECT CAST(j.key AS INTEGER) AS sid, r.time_ns AS t,"
                " CAST(j.value #>> '{}' AS DOUBLE PRECISION) AS v"
                f" FROM {raw} AS r CROSS JOIN LATERAL jsonb_each(r.fields) AS j"
                " WHERE r.time_ns >= :lo AND r.time_ns < :hi AND jsonb_typeof(j.value) = 'number'"
            )
        params = [bindparam("lo", lo, type_=BigInteger), bindparam("hi", hi, type_=BigInteger)]
        if matched is not None:
            sql += " AND r.group_id IN :gids AND j.key IN :keys"
            params += [
                bindparam("gids", sorted({g for _, g in matched.values()}), expanding=True),
                bindparam("keys", [str(sid) for sid in sorted(matched)], expanding=True),
            ]
        return (
            text(sql)
            .bindparams(*params)
            .columns(column("sid", Integer), column("t", BigInteger), column("v", Double))
            .subquery("x")
        )

    @staticmethod
    def _value(value: float | None, svalue: str | None) -> FieldValue:
        return svalue if value is None and svalue is not None else float(value or 0.0)

    def latest(self, host: str, since_ns: int | None = None) -> list[Sample]:
        """Latest value of every series of `host`, from the latest table."""
        s, lt = self.t_series, self.t_latest
        stmt = (
            select(s.c.host, s.c.measurement, s.c.field, s.c.tags, lt.c.time_ns, lt.c.value)
            .add_columns(lt.c.svalue)
            .join(lt, lt.c.series_id == s.c.id)
            .where(s.c.host == host)
        )
        if since_ns is not None:
            stmt = stmt.where(lt.c.time_ns >= since_ns)
        with self._errors(), self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        out = [
            Sample(
                self._key(r.host, r.measurement, r.field, r.tags),
                r.time_ns,
                self._value(r.value, r.svalue),
            )
            for r in rows
        ]
        return sorted(out, key=lambda x: x.key)

    def latest_many(self, selectors: Sequence[Selector], since_ns: int) -> list[Sample]:
        """Latest value of every series matching any selector, in one query."""
        s, lt = self.t_series, self.t_latest
        conds = []
        for sel in selectors:
            if sel.hosts is not None and not sel.hosts:
                continue
            c = and_(s.c.measurement == sel.measurement, s.c.field == sel.field)
            if sel.hosts is not None:
                c = and_(c, s.c.host.in_(list(sel.hosts)))
            conds.append(c)
        if not conds:
            return []
        stmt = (
            select(s.c.host, s.c.measurement, s.c.field, s.c.tags, lt.c.time_ns, lt.c.value)
            .add_columns(lt.c.svalue)
            .join(lt, lt.c.series_id == s.c.id)
            .where(or_(*conds), lt.c.time_ns >= since_ns)
        )
        with self._errors(), self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        out = []
        for r in rows:
            tags = json.loads(r.tags)
            if any(
                sel.measurement == r.measurement
                and sel.field == r.field
                and (sel.hosts is None or r.host in sel.hosts)
                and all(tags.get(k) == v for k, v in sel.tags.items())
                for sel in selectors
            ):
                key = series_key(r.host, r.measurement, r.field, tags)
                out.append(Sample(key, r.time_ns, self._value(r.value, r.svalue)))
        return sorted(out, key=lambda x: x.key)

    def query_range(self, query: RangeQuery, now_ns: int | None = None) -> list[SeriesData]:
        """Bucketed values per series from the tier that `pick_tier` chooses."""
        now = self._clock() if now_ns is None else now_ns
        sel, agg = query.selector, Aggregate(query.aggregate)
        step_ns = query.step_s * NS
        buckets = bucket_starts(query.start_ns, query.end_ns, step_ns)
        if not buckets:
            return []
        tier = pick_tier(self.tiers, query.start_ns, query.step_s, now)
        lo = buckets[0] - step_ns if agg is Aggregate.RATE else query.start_ns
        values: dict[int, dict[int, float]] = {}
        with self._errors(), self._engine.connect() as conn:
            matched = self._match(conn, sel)
            if not matched:
                return []
            keys = {sid: k for sid, (k, _) in matched.items()}
            ids = list(keys)
            if tier.is_raw:
                x = self._values(lo, query.end_ns, matched)
                if agg in (Aggregate.LAST, Aggregate.RATE):
                    stmt = select(x.c.sid, x.c.t, x.c.v).order_by(x.c.sid, x.c.t)
                    per: dict[int, list[tuple[int, float]]] = {}
                    for sid, t, v in _rows(conn, stmt):
                        per.setdefault(sid, []).append((t, float(v)))
                    values = {sid: last_per_bucket(rows, step_ns) for sid, rows in per.items()}
                else:
                    width = _int_sql(step_ns)
                    bucket = x.c.t - x.c.t % width
                    stmt2 = select(x.c.sid, bucket, _SQL_AGG[agg](x.c.v)).group_by(x.c.sid, bucket)
                    for sid, b, v in _rows(conn, stmt2):
                        values.setdefault(sid, {})[int(b)] = float(v)
            else:
                ru = self.t_rollup
                stmt3 = (
                    select(ru.c.series_id, ru.c.bucket_ns, ru.c.mean, ru.c.vmin, ru.c.vmax)
                    .add_columns(ru.c.vcount, ru.c.vsum)
                    .where(
                        ru.c.tier == tier.name,
                        ru.c.series_id.in_(ids),
                        ru.c.bucket_ns >= lo,
                        ru.c.bucket_ns < query.end_ns,
                    )
                )
                acc: dict[int, dict[int, RollupBucket]] = {}
                for sid, t, mean, mn, mx, cnt, total in _rows(conn, stmt3):
                    b = t - t % step_ns
                    acc.setdefault(sid, {}).setdefault(b, RollupBucket()).add(
                        t, mean, mn, mx, cnt, total
                    )
                for sid, per_bucket in acc.items():
                    values[sid] = {
                        b: v for b, rb in per_bucket.items() if (v := rb.value(agg)) is not None
                    }
        out = []
        for sid, by_bucket in values.items():
            if agg is Aggregate.RATE:
                by_bucket = rate_per_bucket(by_bucket, buckets)
            out.append(SeriesData(keys[sid], fill(buckets, by_bucket), tier.name))
        return sorted(out, key=lambda x: x.key)

    def aggregate(
        self, selector: Selector, start_ns: int, end_ns: int, aggregate: Aggregate
    ) -> list[Sample]:
        """One value per series over [start, end) from raw data.

        One statement: the series dictionary, filtered by measurement, field, hosts and tags
        (indexed), joined to the raw rows of each series' group by primary key over the
        window, the series' own field read out of the row and aggregated per series.
        """
        agg = Aggregate(aggregate)
        if selector.hosts is not None and not selector.hosts:
            return []
        sqlite_ = self.dialect == "sqlite"
        series = self._engine.dialect.identifier_preparer.quote(self.t_series.name)
        params: list[Any] = [
            bindparam("m", selector.measurement),
            bindparam("f", selector.field),
            bindparam("lo", start_ns, type_=BigInteger),
            bindparam("hi", end_ns, type_=BigInteger),
        ]
        if sqlite_:
            path = "'$.\"' || s.id || '\"'"
            value = (
                f"CASE WHEN json_type(r.fields, {path}) IN ('integer', 'real')"
                f" THEN json_extract(r.fields, {path}) END"
            )
        else:
            sid_text = "CAST(s.id AS TEXT)"
            value = (
                f"CASE WHEN jsonb_typeof(r.fields -> {sid_text}) = 'number'"
                f" THEN CAST(r.fields ->> {sid_text} AS DOUBLE PRECISION) END"
            )
        where = ["s.measurement = :m", "s.field = :f"]
        if selector.hosts is not None:
            # One parameter whatever the scope's size (no expanding IN of a thousand names).
            hosts = sorted(set(selector.hosts))
            if sqlite_:
                where.append("s.host IN (SELECT value FROM json_each(:hosts))")
                params.append(bindparam("hosts", json.dumps(hosts)))
            else:
                where.append("s.host = ANY(CAST(:hosts AS TEXT[]))")
                params.append(bindparam("hosts", hosts))
        want = dict(selector.tags)
        for i, (k, tv) in enumerate(sorted(want.items())):
            # Pushed down as a filter; the exact comparison below stays the arbiter.
            if sqlite_:
                if '"' in k or "\\" in k:
                    continue
                where.append(f"json_extract(s.tags, :tp{i}) = :tv{i}")
                params += [bindparam(f"tp{i}", f'$."{k}"'), bindparam(f"tv{i}", tv)]
            else:
                where.append(f"(CAST(s.tags AS JSONB) ->> :tp{i}) = :tv{i}")
                params += [bindparam(f"tp{i}", k), bindparam(f"tv{i}", tv)]
        src = (
            f" FROM {series} AS s JOIN {self._raw_q} AS r ON r.group_id = s.group_id"
            " AND r.time_ns >= :lo AND r.time_ns < :hi"
            f" WHERE {' AND '.join(where)}"
        )
        if agg is Aggregate.RATE:
            sql = (
                f"SELECT s.id, s.host, s.tags, r.time_ns, {value} AS v{src}"
                " ORDER BY s.id, r.time_ns"
            )
        elif agg is Aggregate.LAST and sqlite_:
            # SQLite takes bare columns from the row that holds the max().
            sql = (
                f"SELECT s.id, s.host, s.tags, max(r.time_ns), {value} AS v{src}"
                f" AND {value} IS NOT NULL GROUP BY s.id, s.host, s.tags"
            )
        elif agg is Aggregate.LAST:
            sql = (
                f"SELECT DISTINCT ON (s.id) s.id, s.host, s.tags, r.time_ns, {value} AS v{src}"
                f" AND {value} IS NOT NULL ORDER BY s.id, r.time_ns DESC"
            )
        else:
            fn = {
                Aggregate.MEAN: "avg",
                Aggregate.MIN: "min",
                Aggregate.MAX: "max",
                Aggregate.SUM: "sum",
                Aggregate.COUNT: "count",
            }[agg]
            sql = f"SELECT s.id, s.host, s.tags, {fn}({value}){src} GROUP BY s.id, s.host, s.tags"
        out = []
        with self._errors(), self._engine.connect() as conn:
            rows: list[Any] = list(conn.execute(text(sql).bindparams(*params)).all())
        if agg in (Aggregate.RATE, Aggregate.LAST):
            per: dict[int, tuple[str, str, list[tuple[int, float]]]] = {}
            for sid, host, tags_s, t, v in rows:
                if v is None:
                    continue
                entry = per.get(sid)
                if entry is None:
                    entry = per[sid] = (host, tags_s, [])
                entry[2].append((int(t), float(v)))
            grouped: list[tuple[str, str, float | None]] = [
                (host, tags_s, window_rate(vals) if agg is Aggregate.RATE else vals[-1][1])
                for host, tags_s, vals in per.values()
            ]
        else:
            grouped = [(host, tags_s, v) for _, host, tags_s, v in rows]
        # Hosts share a handful of tag sets: parse, check and sort each one once.
        keys: dict[str, tuple[tuple[str, str], ...] | None] = {}
        for host, tags_s, v in grouped:
            if v is None:
                continue
            if tags_s in keys:
                tt = keys[tags_s]
            else:
                tags = json.loads(tags_s)
                ok = all(tags.get(k) == wv for k, wv in want.items())
                tt = keys[tags_s] = tuple(sorted(tags.items())) if ok else None
            if tt is not None:
                key = SeriesKey(host, selector.measurement, selector.field, tt)
                out.append(Sample(key, end_ns, float(v)))
        return sorted(out, key=lambda x: x.key)

    def summary(
        self, selector: Selector, start_ns: int, end_ns: int, now_ns: int | None = None
    ) -> Summary:
        """Exact on raw data (percentile_cont on PostgreSQL); estimated on rollups."""
        now = self._clock() if now_ns is None else now_ns
        tier = pick_tier(self.tiers, start_ns, 0, now)
        with self._errors(), self._engine.connect() as conn:
            matched = self._match(conn, selector)
            if not matched:
                return Summary(0, None, None, None, None, None, approximate=not tier.is_raw)
            ids = list(matched)
            if not tier.is_raw:
                ru = self.t_rollup
                stmt = select(ru.c.mean, ru.c.vmin, ru.c.vmax, ru.c.vcount, ru.c.vsum).where(
                    ru.c.tier == tier.name,
                    ru.c.series_id.in_(ids),
                    ru.c.bucket_ns >= start_ns,
                    ru.c.bucket_ns < end_ns,
                )
                return summary_of_rollups(
                    [
                        (float(a), float(b), float(c), float(d), float(e))
                        for a, b, c, d, e in _rows(conn, stmt)
                    ]
                )
            x = self._values(start_ns, end_ns, matched)
            if self.dialect == "postgresql":
                (row,) = _rows(
                    conn,
                    select(
                        func.count(x.c.v),
                        func.avg(x.c.v),
                        func.min(x.c.v),
                        func.max(x.c.v),
                        func.percentile_cont(0.95).within_group(x.c.v),
                        func.percentile_cont(0.99).within_group(x.c.v),
                    ),
                )
                if not row[0]:
                    return Summary(0, None, None, None, None, None)
                n, avg, mn, mx, p95, p99 = row
                return Summary(int(n), float(avg), float(mn), float(mx), float(p95), float(p99))
            values: list[Any] = list(conn.execute(select(x.c.v)).scalars())
        return summary_of([float(v) for v in values])

    def hosts(self) -> list[str]:
        """Every host with a current series."""
        s, lt = self.t_series, self.t_latest
        stmt = select(s.c.host).join(lt, lt.c.series_id == s.c.id).distinct()
        with self._errors(), self._engine.connect() as conn:
            return sorted(conn.execute(stmt).scalars().all())

    def series(self, host: str) -> list[SeriesKey]:
        """Every series of a host that still has data."""
        s, lt = self.t_series, self.t_latest
        stmt = (
            select(s.c.host, s.c.measurement, s.c.field, s.c.tags)
            .join(lt, lt.c.series_id == s.c.id)
            .where(s.c.host == host)
        )
        with self._errors(), self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return sorted(self._key(r[0], r[1], r[2], r[3]) for r in rows)

    def delete_host(self, host: str) -> None:
        """Delete the host's points, rollups and latest values (series ids stay reserved)."""
        ids = select(self.t_series.c.id).where(self.t_series.c.host == host).scalar_subquery()
        gids = select(self.t_group.c.id).where(self.t_group.c.host == host).scalar_subquery()
        with self._errors(), self._engine.begin() as conn:
            conn.execute(delete(self.t_raw).where(self.t_raw.c.group_id.in_(gids)))
            for t in (self.t_rollup, self.t_latest):
                conn.execute(delete(t).where(t.c.series_id.in_(ids)))

    # -- retention and rollups -----------------------------------------------------------

    def enforce_retention(self, now_ns: int) -> None:
        """Delete raw points, rollup windows and latest values older than their retention."""
        with self._errors(), self._engine.begin() as conn:
            raw = self.tiers[0]
            conn.execute(
                delete(self.t_raw).where(self.t_raw.c.time_ns < now_ns - raw.retention_s * NS)
            )
            for t in self.tiers[1:]:
                cutoff = now_ns - t.retention_s * NS
                ru, d = self.t_rollup, self.t_dirty
                conn.execute(delete(ru).where(ru.c.tier == t.name, ru.c.bucket_ns < cutoff))
                conn.execute(delete(d).where(d.c.tier == t.name, d.c.bucket_ns < cutoff))
            longest = max(t.retention_s for t in self.tiers)
            lt = self.t_latest
            conn.execute(delete(lt).where(lt.c.time_ns < now_ns - longest * NS))

    def _rollup_range(self, conn: Connection, src: Tier, dst: Tier, start: int, end: int) -> None:
        width = _int_sql(dst.resolution_s * NS)
        tier_name = literal(dst.name, String(32))
        if src.is_raw:
            x = self._values(start, end)
            bucket = x.c.t - x.c.t % width
            sel = (
                select(
                    tier_name,
                    x.c.sid,
                    bucket,
                    func.avg(x.c.v),
                    func.min(x.c.v),
                    func.max(x.c.v),
                    func.count(x.c.v),
                    func.sum(x.c.v),
                )
                .where(true())  # SQLite: keeps ON CONFLICT from parsing as a join constraint
                .group_by(x.c.sid, bucket)
            )
        else:
            ru = self.t_rollup
            bucket = ru.c.bucket_ns - ru.c.bucket_ns % width
            sel = (
                select(
                    tier_name,
                    ru.c.series_id,
                    bucket,
                    func.sum(ru.c.vsum) / func.sum(ru.c.vcount),
                    func.min(ru.c.vmin),
                    func.max(ru.c.vmax),
                    func.sum(ru.c.vcount),
                    func.sum(ru.c.vsum),
                )
                .where(ru.c.tier == src.name, ru.c.bucket_ns >= start, ru.c.bucket_ns < end)
                .group_by(ru.c.series_id, bucket)
            )
        cols = ["tier", "series_id", "bucket_ns", "mean", "vmin", "vmax", "vcount", "vsum"]
        ins = self._insert(self.t_rollup).from_select(cols, sel)
        ins = ins.on_conflict_do_update(
            index_elements=["tier", "series_id", "bucket_ns"],
            set_={c: getattr(ins.excluded, c) for c in cols[3:]},
        )
        conn.execute(ins)

    def _set_watermark(self, conn: Connection, tier: str, watermark: int) -> None:
        ins = self._insert(self.t_state).values(tier=tier, watermark_ns=watermark)
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=["tier"], set_={"watermark_ns": ins.excluded.watermark_ns}
            )
        )

    def rollup(self, now_ns: int) -> RollupReport:
        """Recompute claimed dirty windows, then roll up closed windows past each watermark.

        The catch-up after downtime goes in chunks of `rollup_chunk_windows` windows, one
        transaction each, advancing the watermark as it goes: SQLite's single writer is
        never held for long, and an interrupted run resumes where it stopped.
        """
        report: dict[str, int] = {}
        source_limit = now_ns - self._delay_ns
        st, d = self.t_state, self.t_dirty
        for k in range(1, len(self.tiers)):
            src, dst = self.tiers[k - 1], self.tiers[k]
            res = dst.resolution_s * NS
            with self._errors(), self._engine.begin() as conn:
                # Claim the dirty marks first: a write committed after this re-marks its
                # window for the next run, one committed before is visible to the recompute.
                claimed: set[int] = set(
                    conn.execute(
                        delete(d).where(d.c.tier == dst.name).returning(d.c.bucket_ns)
                    ).scalars()
                )
                states: dict[str, int] = dict(
                    conn.execute(select(st.c.tier, st.c.watermark_ns)).all()
                )
                wm = states.get(dst.name, align_down(now_ns - src.retention_s * NS, res))
                # Marks at or past the watermark are covered by the normal pass below.
                dirty = sorted(w for w in claimed if w < wm)
                for a, b in merge_ranges([(w, w + res) for w in dirty]):
                    self._rollup_range(conn, src, dst, a, b)
                if dirty and k + 1 < len(self.tiers):
                    nxt = self.tiers[k + 1]
                    nwm = states.get(nxt.name)
                    up = {align_down(w, nxt.resolution_s * NS) for w in dirty}
                    marks = [(nxt.name, w) for w in sorted(up) if nwm is not None and w < nwm]
                    if marks:
                        conn.exec_driver_sql(self._sql_dirty, marks)
                if dst.name not in states:
                    self._set_watermark(conn, dst.name, wm)
            limit = max(wm, align_down(source_limit, res))
            span = res * self._chunk_windows
            for a in range(wm, limit, span):
                b = min(limit, a + span)
                with self._errors(), self._engine.begin() as conn:
                    self._rollup_range(conn, src, dst, a, b)
                    self._set_watermark(conn, dst.name, b)
            report[dst.name] = (limit - wm) // res + len(dirty)
            source_limit = limit
        return RollupReport(report)
