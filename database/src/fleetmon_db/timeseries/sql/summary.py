"""Summaries on the SQL store: exact on raw data, estimated on rollups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from fleetmon_db.timeseries.compute import summary_of, summary_of_rollups
from fleetmon_db.timeseries.model import Selector, Summary
from fleetmon_db.timeseries.sql.database import Database, rows
from fleetmon_db.timeseries.sql.read import Matched, match, raw_values
from fleetmon_db.timeseries.stitch import Window, stitched_summary_windows
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
                # The rollup tier where rolled up, finer data for the rest (stitch.py).
                windows = stitched_summary_windows(
                    self._tiers,
                    start_ns,
                    end_ns,
                    now,
                    lambda: self._watermarks(conn),
                    lambda t, lo, hi: self._windows(conn, matched, t, lo, hi),
                )
                return summary_of_rollups(windows or [])
            x = raw_values(self._db, start_ns, end_ns, matched)
            exact = self._db.dialect.raw_summary(conn, x)
            if exact is not None:
                return exact
            values: list[Any] = list(conn.execute(select(x.c.v)).scalars())
        return summary_of([float(v) for v in values])

    def _watermarks(self, conn: Connection) -> dict[str, int]:
        st = self._db.tables.state
        return {t: int(wm) for t, wm in rows(conn, select(st.c.tier, st.c.watermark_ns))}

    def _windows(
        self, conn: Connection, matched: Matched, tier: Tier, lo: int, hi: int
    ) -> list[Window]:
        """Rollup windows of `tier` in [lo, hi); raw values as windows of one."""
        if tier.is_raw:
            x = raw_values(self._db, lo, hi, matched)
            values = [float(r[0]) for r in rows(conn, select(x.c.v))]
            return [(v, v, v, 1.0, v) for v in values]
        ru = self._db.tables.rollup
        stmt = select(ru.c.mean, ru.c.vmin, ru.c.vmax, ru.c.vcount, ru.c.vsum).where(
            ru.c.tier == tier.name,
            ru.c.series_id.in_(list(matched)),
            ru.c.bucket_ns >= lo,
            ru.c.bucket_ns < hi,
        )
        return [
            (float(a), float(b), float(c), float(d), float(e)) for a, b, c, d, e in rows(conn, stmt)
        ]
