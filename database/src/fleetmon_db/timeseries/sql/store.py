"""SQL time-series store on SQLAlchemy Core: SQLite (embedded, WAL) and PostgreSQL (psycopg 3).

Tables as schema.py describes them. This class wires the parts, each with one job:
database (engine, dialect, errors), write, read, summary and the rollup backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from sqlalchemy import delete, select

from fleetmon_db.timeseries.contract import Capabilities, TimeSeriesStore
from fleetmon_db.timeseries.model import (
    NS,
    Aggregate,
    Point,
    RangeQuery,
    Sample,
    Selector,
    SeriesData,
    SeriesKey,
    Summary,
)
from fleetmon_db.timeseries.rollup import RollupScheduler
from fleetmon_db.timeseries.sql.database import Database
from fleetmon_db.timeseries.sql.read import SqlReads
from fleetmon_db.timeseries.sql.rollup import SqlRollupBackend
from fleetmon_db.timeseries.sql.schema import check_tier_name
from fleetmon_db.timeseries.sql.summary import SqlSummaries
from fleetmon_db.timeseries.sql.write import SqlWriter
from fleetmon_db.timeseries.tiers import DEFAULT_TIERS, Tier, validate_tiers


class SqlStore(TimeSeriesStore):
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
        for t in tiers:
            check_tier_name(t.name)
        self.tiers = tuple(tiers)
        self.db = Database(url, table_prefix=table_prefix, pool_size=pool_size, echo=echo)
        self.name = self.db.name
        embedded = self.name == "sqlite"
        self.capabilities = Capabilities(
            # In-process SQLite competes with the caller for the same cores (measured slower
            # with several questions in flight); a server works in its own process.
            concurrent_queries=not embedded,
            combined_aggregates=False,
            native_async_writes=False,
            server_retention=False,
        )
        self.rollups = RollupScheduler(
            SqlRollupBackend(self.db),
            self.tiers,
            delay_s=rollup_delay_s,
            chunk_windows=rollup_chunk_windows,
        )
        self._writer = SqlWriter(self.db, self.rollups, clock)
        self._reads = SqlReads(self.db, self.tiers, clock)
        self._summaries = SqlSummaries(self.db, self.tiers, clock)

    def ensure_schema(self) -> None:
        """Create the tables if missing."""
        self.db.create_tables()

    def ping(self) -> None:
        """Run a trivial query."""
        with self.db.reading() as conn:
            conn.exec_driver_sql("SELECT 1")

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.db.close()

    def write(self, points: Sequence[Point]) -> int:
        """Upsert one row per point, the latest table, and dirty marks for late points."""
        return self._writer.write(points)

    def latest(self, host: str, since_ns: int | None = None) -> list[Sample]:
        """Latest value of every series of `host`, from the latest table."""
        return self._reads.latest(host, since_ns)

    def latest_many(self, selectors: Sequence[Selector], since_ns: int) -> list[Sample]:
        """Latest value of every series matching any selector, in one query."""
        return self._reads.latest_many(selectors, since_ns)

    def query_range(self, query: RangeQuery, now_ns: int | None = None) -> list[SeriesData]:
        """Bucketed values per series, stitched across tiers (stitch.py)."""
        return self._reads.query_range(query, now_ns)

    def aggregate(
        self, selector: Selector, start_ns: int, end_ns: int, aggregate: Aggregate
    ) -> list[Sample]:
        """One value per series over [start, end) from raw data, in one statement."""
        return self._reads.aggregate(selector, start_ns, end_ns, aggregate)

    def summary(
        self, selector: Selector, start_ns: int, end_ns: int, now_ns: int | None = None
    ) -> Summary:
        """Exact on raw data (percentile_cont on PostgreSQL); estimated on rollups."""
        return self._summaries.summary(selector, start_ns, end_ns, now_ns)

    def hosts(self) -> list[str]:
        """Every host with a current series."""
        return self._reads.hosts()

    def series(self, host: str) -> list[SeriesKey]:
        """Every series of a host that still has data."""
        return self._reads.series(host)

    def delete_host(self, host: str) -> None:
        """Delete the host's points, rollups and latest values (series ids stay reserved)."""
        t = self.db.tables
        ids = select(t.series.c.id).where(t.series.c.host == host).scalar_subquery()
        gids = select(t.group.c.id).where(t.group.c.host == host).scalar_subquery()
        with self.db.writing() as conn:
            conn.execute(delete(t.raw).where(t.raw.c.group_id.in_(gids)))
            for table in (t.rollup, t.latest):
                conn.execute(delete(table).where(table.c.series_id.in_(ids)))

    def enforce_retention(self, now_ns: int) -> None:
        """Delete raw points, rollup windows and latest values older than their retention."""
        t = self.db.tables
        with self.db.writing() as conn:
            raw = self.tiers[0]
            conn.execute(delete(t.raw).where(t.raw.c.time_ns < now_ns - raw.retention_s * NS))
            for tier in self.tiers[1:]:
                cutoff = now_ns - tier.retention_s * NS
                ru, d = t.rollup, t.dirty
                conn.execute(delete(ru).where(ru.c.tier == tier.name, ru.c.bucket_ns < cutoff))
                conn.execute(delete(d).where(d.c.tier == tier.name, d.c.bucket_ns < cutoff))
            longest = max(tier.retention_s for tier in self.tiers)
            lt = t.latest
            conn.execute(delete(lt).where(lt.c.time_ns < now_ns - longest * NS))
