"""Summaries on the SQL store: exact on raw data, estimated on rollups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select

from fleetmon_db.timeseries.compute import summary_of, summary_of_rollups
from fleetmon_db.timeseries.model import Selector, Summary
from fleetmon_db.timeseries.sql.database import Database, rows
from fleetmon_db.timeseries.sql.read import match, raw_values
from fleetmon_db.timeseries.tiers import Tier, pick_tier


class SqlSummaries:
    """avg/min/max/p95/p99: exact on raw data (percentile_cont on PostgreSQL), from rollups
    beyond raw retention (percentiles estimated)."""

    def __init__(self, db: Database, tiers: Sequence[Tier], clock: Callable[[], int]) -> None:
        self._db = db
        self._tiers = tuple(tiers)
        self._clock = clock

    def summary(
        self, selector: Selector, start_ns: int, end_ns: int, now_ns: int | None = None
    ) -> Summary:
        """Statistics of every selected series' samples in [start, end) together."""
        now = self._clock() if now_ns is None else now_ns
        tier = pick_tier(self._tiers, start_ns, 0, now)
        with self._db.reading() as conn:
            matched = match(self._db, conn, selector)
            if not matched:
                return Summary(0, None, None, None, None, None, approximate=not tier.is_raw)
            if not tier.is_raw:
                ru = self._db.tables.rollup
                stmt = select(ru.c.mean, ru.c.vmin, ru.c.vmax, ru.c.vcount, ru.c.vsum).where(
                    ru.c.tier == tier.name,
                    ru.c.series_id.in_(list(matched)),
                    ru.c.bucket_ns >= start_ns,
                    ru.c.bucket_ns < end_ns,
                )
                return summary_of_rollups(
                    [
                        (float(a), float(b), float(c), float(d), float(e))
                        for a, b, c, d, e in rows(conn, stmt)
                    ]
                )
            x = raw_values(self._db, start_ns, end_ns, matched)
            exact = self._db.dialect.raw_summary(conn, x)
            if exact is not None:
                return exact
            values: list[Any] = list(conn.execute(select(x.c.v)).scalars())
        return summary_of([float(v) for v in values])
