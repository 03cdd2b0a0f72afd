"""SQL time-series store on SQLAlchemy Core: SQLite (embedded, WAL) and PostgreSQL (psycopg 3).

Schema (every table name carries a configurable prefix, ``ts_`` by default):

- ``series``: the dictionary of series (id, host, measurement, field, tags as canonical
  JSON), unique on all four; ids are never reused or deleted, so caches stay valid.
- ``raw``: one narrow row per field value, primary key (series_id, time_ns); numbers and
  booleans in ``value``, strings in ``svalue``. Writes upsert, so a retried batch leaves
  stored data unchanged.
- ``rollup``: (tier, series_id, bucket_ns) -> mean, vmin, vmax, vcount, vsum.
- ``latest``: the newest value of every series, maintained on write.
- ``rollup_state`` (watermark per tier) and ``rollup_dirty`` (windows to recompute).
"""

# ruff: noqa: S608  -- every spliced value goes through quoting (influxql.py) or is an int
from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    create_engine,
    delete,
    event,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from fleetmon_db.timeseries.base import (
    NS,
    Aggregate,
    FieldValue,
    Point,
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
CacheKey = tuple[str, str, tuple[tuple[str, str], ...]]


def canonical_tags(tags: Mapping[str, str]) -> str:
    """Tags as canonical JSON (sorted keys, no spaces); the `host` key is not a tag."""
    return json.dumps(
        {k: tags[k] for k in sorted(tags) if k != "host"}, ensure_ascii=False, separators=(",", ":")
    )


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
        self._ids: dict[CacheKey, dict[str, int]] = {}
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
            UniqueConstraint("host", "measurement", "field", "tags", name=f"{p}series_key"),
            Index(f"{p}series_metric", "measurement", "field"),
        )
        self.t_raw = Table(
            f"{p}raw",
            md,
            Column("series_id", Integer, primary_key=True, autoincrement=False),
            Column("time_ns", BigInteger, primary_key=True, autoincrement=False),
            Column("value", Double),
            Column("svalue", Text),
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
        raw, latest, series, dirty = (
            q(t.name) for t in (self.t_raw, self.t_latest, self.t_series, self.t_dirty)
        )
        self._sql_raw = (
            f"INSERT INTO {raw} (series_id, time_ns, value, svalue) VALUES ({ph}, {ph}, {ph}, {ph})"
            " ON CONFLICT (series_id, time_ns) DO UPDATE"
            " SET value = excluded.value, svalue = excluded.svalue"
        )
        self._sql_latest = (
            f"INSERT INTO {latest} (series_id, time_ns, value, svalue)"
            f" VALUES ({ph}, {ph}, {ph}, {ph})"
            " ON CONFLICT (series_id) DO UPDATE SET time_ns = excluded.time_ns,"
            " value = excluded.value, svalue = excluded.svalue"
            f" WHERE excluded.time_ns >= {latest}.time_ns"
        )
        self._sql_series = (
            f"INSERT INTO {series} (host, measurement, field, tags)"
            f" VALUES ({ph}, {ph}, {ph}, {ph}) ON CONFLICT DO NOTHING"
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

    def _build(
        self, points: Sequence[Point], late_before: int | None, window_ns: int
    ) -> tuple[list[tuple[Any, ...]], dict[int, tuple[Any, ...]], set[int], list[Point]]:
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        latest: dict[int, tuple[Any, ...]] = {}
        late: set[int] = set()
        unresolved: list[Point] = []
        cache = self._ids
        inf = _INF
        for p in points:
            ids = cache.get((p.host, p.measurement, tuple(p.tags.items())))
            if ids is None:
                unresolved.append(p)
                continue
            t = p.time_ns
            n0 = len(rows)
            try:
                for f, v in p.fields.items():
                    tv = type(v)
                    if tv is float:
                        if not -inf < v < inf:  # type: ignore[operator]
                            continue
                        row: tuple[Any, ...] = (ids[f], t, v, None)
                    elif tv is str:
                        row = (ids[f], t, None, v)
                    elif tv is int or tv is bool:
                        row = (ids[f], t, float(v), None)  # type: ignore[arg-type]
                    else:
                        continue
                    append(row)
                    cur = latest.get(row[0])
                    if cur is None or t >= cur[1]:
                        latest[row[0]] = row
            except KeyError:
                del rows[n0:]
                unresolved.append(p)
                continue
            if late_before is not None and t < late_before and len(rows) > n0:
                late.add(t - t % window_ns)
        return rows, latest, late, unresolved

    def _resolve(self, points: Sequence[Point]) -> None:
        """Create missing series rows and load their ids into the cache."""
        needed = {
            (p.host, p.measurement, f, canonical_tags(p.tags)) for p in points for f in p.fields
        }
        with self._engine.begin() as conn:
            conn.exec_driver_sql(self._sql_series, sorted(needed))
        s = self.t_series
        by_key: dict[tuple[str, str, str, str], int] = {}
        hosts = sorted({n[0] for n in needed})
        with self._engine.connect() as conn:
            for i in range(0, len(hosts), 500):
                stmt = select(s.c.id, s.c.host, s.c.measurement, s.c.field, s.c.tags).where(
                    s.c.host.in_(hosts[i : i + 500])
                )
                for r in conn.execute(stmt):
                    by_key[(r.host, r.measurement, r.field, r.tags)] = r.id
        for p in points:
            tj = canonical_tags(p.tags)
            ids = self._ids.setdefault((p.host, p.measurement, tuple(p.tags.items())), {})
            for f in p.fields:
                ids[f] = by_key[(p.host, p.measurement, f, tj)]

    def write(self, points: Sequence[Point]) -> int:
        """Upsert the points' values, the latest table, and dirty marks for late points."""
        window_ns = self.tiers[1].resolution_s * NS if len(self.tiers) > 1 else 0
        late_before = align_down(self._clock() - self._delay_ns, window_ns) if window_ns else None
        with self._errors():
            rows, latest, late, unresolved = self._build(points, late_before, window_ns)
            if unresolved:
                self._resolve(unresolved)
                rows2, latest2, late2, still = self._build(unresolved, late_before, window_ns)
                if still:
                    raise StoreError("series ids could not be resolved")
                rows += rows2
                late |= late2
                for sid, row in latest2.items():
                    cur = latest.get(sid)
                    if cur is None or row[1] >= cur[1]:
                        latest[sid] = row
            if not rows:
                return 0
            with self._engine.begin() as conn:
                if late:
                    tier = self.tiers[1].name
                    conn.exec_driver_sql(self._sql_dirty, [(tier, w) for w in sorted(late)])
                conn.exec_driver_sql(self._sql_raw, rows)
                conn.exec_driver_sql(self._sql_latest, list(latest.values()))
        return len(rows)

    # -- reads -----------------------------------------------------------------------------

    def _key(self, host: str, measurement: str, field: str, tags: str) -> SeriesKey:
        return series_key(host, measurement, field, json.loads(tags))

    def _match(self, conn: Connection, sel: Selector) -> dict[int, SeriesKey]:
        """Series ids matching a selector (tags are compared in Python, exactly)."""
        if sel.hosts is not None and not sel.hosts:
            return {}
        s = self.t_series
        stmt = select(s.c.id, s.c.host, s.c.measurement, s.c.field, s.c.tags).where(
            s.c.measurement == sel.measurement, s.c.field == sel.field
        )
        if sel.hosts is not None:
            stmt = stmt.where(s.c.host.in_(list(sel.hosts)))
        out = {}
        want = dict(sel.tags)
        for r in conn.execute(stmt):
            tags = json.loads(r.tags)
            if all(tags.get(k) == v for k, v in want.items()):
                out[r.id] = series_key(r.host, r.measurement, r.field, tags)
        return out

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
            keys = self._match(conn, sel)
            if not keys:
                return []
            ids = list(keys)
            if tier.is_raw:
                r = self.t_raw
                where = (
                    r.c.series_id.in_(ids),
                    r.c.time_ns >= lo,
                    r.c.time_ns < query.end_ns,
                    r.c.value.is_not(None),
                )
                if agg in (Aggregate.LAST, Aggregate.RATE):
                    stmt = (
                        select(r.c.series_id, r.c.time_ns, r.c.value)
                        .where(*where)
                        .order_by(r.c.series_id, r.c.time_ns)
                    )
                    per: dict[int, list[tuple[int, float]]] = {}
                    for sid, t, v in conn.execute(stmt):
                        per.setdefault(sid, []).append((t, v))
                    values = {sid: last_per_bucket(rows, step_ns) for sid, rows in per.items()}
                else:
                    width = _int_sql(step_ns)
                    bucket = r.c.time_ns - r.c.time_ns % width
                    fn = {
                        Aggregate.MEAN: func.avg,
                        Aggregate.MIN: func.min,
                        Aggregate.MAX: func.max,
                        Aggregate.SUM: func.sum,
                        Aggregate.COUNT: func.count,
                    }[agg]
                    stmt2 = (
                        select(r.c.series_id, bucket, fn(r.c.value))
                        .where(*where)
                        .group_by(r.c.series_id, bucket)
                    )
                    for sid, b, v in conn.execute(stmt2):
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
                for sid, t, mean, mn, mx, cnt, total in conn.execute(stmt3):
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
        """One value per series over [start, end) from raw data."""
        agg = Aggregate(aggregate)
        r = self.t_raw
        out = []
        with self._errors(), self._engine.connect() as conn:
            keys = self._match(conn, selector)
            if not keys:
                return []
            where = (r.c.series_id.in_(list(keys)), r.c.time_ns >= start_ns, r.c.time_ns < end_ns)
            if agg is Aggregate.RATE:
                stmt = (
                    select(r.c.series_id, r.c.time_ns, r.c.value)
                    .where(*where, r.c.value.is_not(None))
                    .order_by(r.c.series_id, r.c.time_ns)
                )
                per: dict[int, list[tuple[int, float]]] = {}
                for sid, t, v in conn.execute(stmt):
                    per.setdefault(sid, []).append((t, v))
                for sid, rows in per.items():
                    rate = window_rate(rows)
                    if rate is not None:
                        out.append(Sample(keys[sid], end_ns, rate))
            elif agg is Aggregate.LAST:
                newest = (
                    select(r.c.series_id, func.max(r.c.time_ns).label("t"))
                    .where(*where)
                    .group_by(r.c.series_id)
                    .subquery()
                )
                stmt = select(r.c.series_id, r.c.value, r.c.svalue).join(
                    newest, and_(r.c.series_id == newest.c.series_id, r.c.time_ns == newest.c.t)
                )
                for sid, v, sv in conn.execute(stmt):
                    out.append(Sample(keys[sid], end_ns, self._value(v, sv)))
            else:
                fn = {
                    Aggregate.MEAN: func.avg,
                    Aggregate.MIN: func.min,
                    Aggregate.MAX: func.max,
                    Aggregate.SUM: func.sum,
                    Aggregate.COUNT: func.count,
                }[agg]
                stmt = (
                    select(r.c.series_id, fn(r.c.value))
                    .where(*where, r.c.value.is_not(None))
                    .group_by(r.c.series_id)
                )
                for sid, v in conn.execute(stmt):
                    if v is not None:
                        out.append(Sample(keys[sid], end_ns, float(v)))
        return sorted(out, key=lambda x: x.key)

    def summary(
        self, selector: Selector, start_ns: int, end_ns: int, now_ns: int | None = None
    ) -> Summary:
        """Exact on raw data (percentile_cont on PostgreSQL); estimated on rollups."""
        now = self._clock() if now_ns is None else now_ns
        tier = pick_tier(self.tiers, start_ns, 0, now)
        with self._errors(), self._engine.connect() as conn:
            keys = self._match(conn, selector)
            if not keys:
                return Summary(0, None, None, None, None, None, approximate=not tier.is_raw)
            ids = list(keys)
            if not tier.is_raw:
                ru = self.t_rollup
                stmt = select(ru.c.mean, ru.c.vmin, ru.c.vmax, ru.c.vcount, ru.c.vsum).where(
                    ru.c.tier == tier.name,
                    ru.c.series_id.in_(ids),
                    ru.c.bucket_ns >= start_ns,
                    ru.c.bucket_ns < end_ns,
                )
                return summary_of_rollups([tuple(map(float, row)) for row in conn.execute(stmt)])  # type: ignore[misc]
            r = self.t_raw
            where = (
                r.c.series_id.in_(ids),
                r.c.time_ns >= start_ns,
                r.c.time_ns < end_ns,
                r.c.value.is_not(None),
            )
            if self.dialect == "postgresql":
                row = conn.execute(
                    select(
                        func.count(r.c.value),
                        func.avg(r.c.value),
                        func.min(r.c.value),
                        func.max(r.c.value),
                        func.percentile_cont(0.95).within_group(r.c.value),
                        func.percentile_cont(0.99).within_group(r.c.value),
                    ).where(*where)
                ).one()
                if not row[0]:
                    return Summary(0, None, None, None, None, None)
                n, avg, mn, mx, p95, p99 = row
                return Summary(int(n), float(avg), float(mn), float(mx), float(p95), float(p99))
            values = conn.execute(select(r.c.value).where(*where)).scalars().all()
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
        return sorted(self._key(*r) for r in rows)

    def delete_host(self, host: str) -> None:
        """Delete the host's points, rollups and latest values (series ids stay reserved)."""
        ids = select(self.t_series.c.id).where(self.t_series.c.host == host).scalar_subquery()
        with self._errors(), self._engine.begin() as conn:
            for t in (self.t_raw, self.t_rollup, self.t_latest):
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
            r = self.t_raw
            bucket = r.c.time_ns - r.c.time_ns % width
            sel = (
                select(
                    tier_name,
                    r.c.series_id,
                    bucket,
                    func.avg(r.c.value),
                    func.min(r.c.value),
                    func.max(r.c.value),
                    func.count(r.c.value),
                    func.sum(r.c.value),
                )
                .where(r.c.time_ns >= start, r.c.time_ns < end, r.c.value.is_not(None))
                .group_by(r.c.series_id, bucket)
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

    def rollup(self, now_ns: int) -> RollupReport:
        """Roll up closed windows past each watermark, then claimed dirty windows, per tier."""
        report: dict[str, int] = {}
        source_limit = now_ns - self._delay_ns
        st, d = self.t_state, self.t_dirty
        for k in range(1, len(self.tiers)):
            src, dst = self.tiers[k - 1], self.tiers[k]
            res = dst.resolution_s * NS
            with self._errors(), self._engine.begin() as conn:
                # Claim the dirty marks first: a write committed after this re-marks its
                # window for the next run, one committed before is visible to the recompute.
                claimed = set(
                    conn.execute(
                        delete(d).where(d.c.tier == dst.name).returning(d.c.bucket_ns)
                    ).scalars()
                )
                states: dict[str, int] = dict(
                    conn.execute(select(st.c.tier, st.c.watermark_ns)).all()
                )
                wm = states.get(dst.name, align_down(now_ns - src.retention_s * NS, res))
                limit = max(wm, align_down(source_limit, res))
                dirty = sorted(w for w in claimed if w < wm)
                for a, b in merge_ranges([(wm, limit)] + [(w, w + res) for w in dirty]):
                    self._rollup_range(conn, src, dst, a, b)
                if dirty and k + 1 < len(self.tiers):
                    nxt = self.tiers[k + 1]
                    nwm = states.get(nxt.name)
                    up = {align_down(w, nxt.resolution_s * NS) for w in dirty}
                    marks = [(nxt.name, w) for w in sorted(up) if nwm is not None and w < nwm]
                    if marks:
                        conn.exec_driver_sql(self._sql_dirty, marks)
                ins = self._insert(st).values(tier=dst.name, watermark_ns=limit)
                conn.execute(
                    ins.on_conflict_do_update(
                        index_elements=["tier"], set_={"watermark_ns": ins.excluded.watermark_ns}
                    )
                )
            report[dst.name] = (limit - wm) // res + len(dirty)
            source_limit = limit
        return RollupReport(report)
