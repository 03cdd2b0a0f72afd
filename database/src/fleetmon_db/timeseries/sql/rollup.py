"""The SQL store's rollup backend: each step is one transaction.

Watermarks live in ``rollup_state``, dirty windows in ``rollup_dirty``. A claim deletes the
tier's marks (``DELETE ... RETURNING``) in the step's transaction: a write committed after
it marks its window again for the next run, one committed before is visible to the
recompute, and a step that fails rolls the claim back with everything else.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager

from sqlalchemy import String, delete, func, literal, select, true
from sqlalchemy.engine import Connection

from fleetmon_db.timeseries.model import NS
from fleetmon_db.timeseries.rollup import DirtyClaim
from fleetmon_db.timeseries.sql.database import Database, rows
from fleetmon_db.timeseries.sql.read import int_sql, raw_values
from fleetmon_db.timeseries.tiers import Tier

_ROLLUP_COLUMNS = ["tier", "series_id", "bucket_ns", "mean", "vmin", "vmax", "vcount", "vsum"]


class SqlRollupBackend:
    """RollupBackend in SQL: the source is aggregated and upserted by the database itself."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @contextmanager
    def step(self) -> Iterator[_Step]:
        """One transaction."""
        with self._db.writing() as conn:
            yield _Step(self._db, conn)


class _Step:
    """Rollup bookkeeping and work inside one transaction."""

    def __init__(self, db: Database, conn: Connection) -> None:
        self._db, self._conn = db, conn

    def watermarks(self) -> dict[str, int]:
        """Tier -> watermark."""
        st = self._db.tables.state
        return {t: int(wm) for t, wm in rows(self._conn, select(st.c.tier, st.c.watermark_ns))}

    def set_watermark(self, tier: str, end_ns: int) -> None:
        """Upsert the tier's watermark."""
        ins = self._db.dialect.insert(self._db.tables.state).values(tier=tier, watermark_ns=end_ns)
        self._conn.execute(
            ins.on_conflict_do_update(
                index_elements=["tier"], set_={"watermark_ns": ins.excluded.watermark_ns}
            )
        )

    def claim_dirty(self, tier: str) -> DirtyClaim:
        """Delete the tier's marks, returning their windows."""
        d = self._db.tables.dirty
        claimed = self._conn.execute(delete(d).where(d.c.tier == tier).returning(d.c.bucket_ns))
        return DirtyClaim(frozenset(claimed.scalars()))

    def mark_dirty(self, tier: str, windows: Collection[int]) -> None:
        """Insert marks (a window already marked stays marked once)."""
        ins = self._db.dialect.insert(self._db.tables.dirty).on_conflict_do_nothing()
        self._conn.execute(ins, [{"tier": tier, "bucket_ns": w} for w in sorted(windows)])

    def sources(self, src: Tier) -> None:
        """Nothing: every series of the source is rolled up by one statement."""

    def first_time(self, src: Tier) -> int | None:
        """0 (cannot tell cheaply): a catch-up over empty windows costs one statement per
        chunk of windows here, less than finding where the data begins."""
        return 0

    def roll(self, src: Tier, dst: Tier, start_ns: int, end_ns: int, sources: None) -> None:
        """INSERT ... SELECT the windows' statistics, replacing windows computed before."""
        width = int_sql(dst.resolution_s * NS)
        tier_name = literal(dst.name, String(32))
        if src.is_raw:
            x = raw_values(self._db, start_ns, end_ns)
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
            ru = self._db.tables.rollup
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
                .where(ru.c.tier == src.name, ru.c.bucket_ns >= start_ns, ru.c.bucket_ns < end_ns)
                .group_by(ru.c.series_id, bucket)
            )
        ins = self._db.dialect.insert(self._db.tables.rollup).from_select(_ROLLUP_COLUMNS, sel)
        ins = ins.on_conflict_do_update(
            index_elements=["tier", "series_id", "bucket_ns"],
            set_={c: getattr(ins.excluded, c) for c in _ROLLUP_COLUMNS[3:]},
        )
        self._conn.execute(ins)
