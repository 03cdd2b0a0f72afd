"""Reads from the SQL store: latest values, bucketed ranges, window aggregates, hosts, series."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Double,
    Integer,
    and_,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.selectable import Subquery

from fleetmon_db.timeseries.compute import (
    RollupBucket,
    last_per_bucket,
    window_rate,
)
from fleetmon_db.timeseries.model import (
    NS,
    Aggregate,
    FieldValue,
    RangeQuery,
    Sample,
    Selector,
    SeriesData,
    SeriesKey,
    series_key,
)
from fleetmon_db.timeseries.sql.database import Database, rows
from fleetmon_db.timeseries.stitch import stitched_range
from fleetmon_db.timeseries.tiers import Tier

# Series id -> (key, group id)
Matched = Mapping[int, tuple[SeriesKey, int]]

# The SQL function of each aggregate that SQL computes by itself.
_SQL_FN: dict[Aggregate, str] = {
    Aggregate.MEAN: "avg",
    Aggregate.MIN: "min",
    Aggregate.MAX: "max",
    Aggregate.SUM: "sum",
    Aggregate.COUNT: "count",
}


def int_sql(value: int) -> ColumnElement[Any]:
    """An integer inlined as a literal (bucket widths)."""
    # PostgreSQL only recognises the same expression in SELECT and GROUP BY when it is
    # textually identical, and two bind parameters never are. Only Python ints get here.
    return literal_column(str(int(value)), BigInteger)


def match(db: Database, conn: Connection, sel: Selector) -> dict[int, tuple[SeriesKey, int]]:
    """Series id -> (key, group id) for a selector (tags are compared in Python, exactly)."""
    if sel.hosts is not None and not sel.hosts:
        return {}
    s = db.tables.series
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


def raw_values(db: Database, lo: int, hi: int, matched: Matched | None = None) -> Subquery:
    """(sid, t, v): numeric raw values in [lo, hi), of the matched series or of all."""
    sql = db.dialect.raw_values(db.quote(db.tables.raw))
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


def _value(value: float | None, svalue: str | None) -> FieldValue:
    return svalue if value is None and svalue is not None else float(value or 0.0)


class SqlReads:
    """The read side of the SQL store."""

    def __init__(self, db: Database, tiers: Sequence[Tier], clock: Callable[[], int]) -> None:
        self._db = db
        self._tiers = tuple(tiers)
        self._clock = clock

    def latest(self, host: str, since_ns: int | None = None) -> list[Sample]:
        """Latest value of every series of `host`, from the latest table."""
        s, lt = self._db.tables.series, self._db.tables.latest
        stmt = (
            select(s.c.host, s.c.measurement, s.c.field, s.c.tags, lt.c.time_ns, lt.c.value)
            .add_columns(lt.c.svalue)
            .join(lt, lt.c.series_id == s.c.id)
            .where(s.c.host == host)
        )
        if since_ns is not None:
            stmt = stmt.where(lt.c.time_ns >= since_ns)
        with self._db.reading() as conn:
            found = conn.execute(stmt).all()
        out = [
            Sample(
                series_key(r.host, r.measurement, r.field, json.loads(r.tags)),
                r.time_ns,
                _value(r.value, r.svalue),
            )
            for r in found
        ]
        return sorted(out, key=lambda x: x.key)

    def latest_many(self, selectors: Sequence[Selector], since_ns: int) -> list[Sample]:
        """Latest value of every series matching any selector, in one query."""
        s, lt = self._db.tables.series, self._db.tables.latest
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
        with self._db.reading() as conn:
            found = conn.execute(stmt).all()
        out = []
        for r in found:
            tags = json.loads(r.tags)
            if any(
                sel.measurement == r.measurement
                and sel.field == r.field
                and (sel.hosts is None or r.host in sel.hosts)
                and all(tags.get(k) == v for k, v in sel.tags.items())
                for sel in selectors
            ):
                key = series_key(r.host, r.measurement, r.field, tags)
                out.append(Sample(key, r.time_ns, _value(r.value, r.svalue)))
        return sorted(out, key=lambda x: x.key)

    def query_range(self, query: RangeQuery, now_ns: int | None = None) -> list[SeriesData]:
        """Bucketed values per series, stitched across tiers (stitch.py): one connection and
        one series lookup for every tier's part."""
        now = self._clock() if now_ns is None else now_ns
        agg, sel, step_s = Aggregate(query.aggregate), query.selector, query.step_s
        with self._db.reading() as conn:
            matched = match(self._db, conn, sel)
            if not matched:
                return []
            return stitched_range(
                query,
                self._tiers,
                now,
                lambda: self._watermarks(conn),
                lambda tier, lo, hi: self._tier_buckets(conn, matched, tier, agg, lo, hi, step_s),
            )

    def watermarks(self) -> dict[str, int]:
        """Rollup tier -> end of its rolled-up windows (tiers never rolled up are absent)."""
        with self._db.reading() as conn:
            return self._watermarks(conn)

    def _watermarks(self, conn: Connection) -> dict[str, int]:
        st = self._db.tables.state
        return {t: int(wm) for t, wm in rows(conn, select(st.c.tier, st.c.watermark_ns))}

    def _tier_buckets(
        self,
        conn: Connection,
        matched: Matched,
        tier: Tier,
        agg: Aggregate,
        lo: int,
        hi: int,
        step_s: int,
    ) -> dict[SeriesKey, dict[int, float]]:
        """Each matched series' value per epoch-aligned bucket of `step_s`, from one tier, in
        [lo, hi). RATE: the counter per bucket (last raw value, max on rollup tiers)."""
        step_ns = step_s * NS
        values: dict[int, dict[int, float]] = {}
        if tier.is_raw:
            x = raw_values(self._db, lo, hi, matched)
            if agg in (Aggregate.LAST, Aggregate.RATE):
                stmt = select(x.c.sid, x.c.t, x.c.v).order_by(x.c.sid, x.c.t)
                per: dict[int, list[tuple[int, float]]] = {}
                for sid, t, v in rows(conn, stmt):
                    per.setdefault(sid, []).append((t, float(v)))
                values = {sid: last_per_bucket(found, step_ns) for sid, found in per.items()}
            else:
                bucket = x.c.t - x.c.t % int_sql(step_ns)
                fn = getattr(func, _SQL_FN[agg])
                stmt2 = select(x.c.sid, bucket, fn(x.c.v)).group_by(x.c.sid, bucket)
                for sid, b, v in rows(conn, stmt2):
                    values.setdefault(sid, {})[int(b)] = float(v)
        else:
            ru = self._db.tables.rollup
            stmt3 = (
                select(ru.c.series_id, ru.c.bucket_ns, ru.c.mean, ru.c.vmin, ru.c.vmax)
                .add_columns(ru.c.vcount, ru.c.vsum)
                .where(
                    ru.c.tier == tier.name,
                    ru.c.series_id.in_(list(matched)),
                    ru.c.bucket_ns >= lo,
                    ru.c.bucket_ns < hi,
                )
            )
            acc: dict[int, dict[int, RollupBucket]] = {}
            for sid, t, mean, mn, mx, cnt, total in rows(conn, stmt3):
                b = t - t % step_ns
                acc.setdefault(sid, {}).setdefault(b, RollupBucket()).add(
                    t, mean, mn, mx, cnt, total
                )
            for sid, per_bucket in acc.items():
                values[sid] = {
                    b: v for b, rb in per_bucket.items() if (v := rb.value(agg)) is not None
                }
        return {matched[sid][0]: by_bucket for sid, by_bucket in values.items()}

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
        dialect = self._db.dialect
        params: list[Any] = [
            bindparam("m", selector.measurement),
            bindparam("f", selector.field),
            bindparam("lo", start_ns, type_=BigInteger),
            bindparam("hi", end_ns, type_=BigInteger),
        ]
        value = dialect.series_value()
        where = ["s.measurement = :m", "s.field = :f"]
        if selector.hosts is not None:
            cond, param = dialect.host_in(selector.hosts)
            where.append(cond)
            params.append(param)
        want = dict(selector.tags)
        for i, (k, tv) in enumerate(sorted(want.items())):
            # Pushed down as a filter; the exact comparison below stays the arbiter.
            cond, tag_params = dialect.tag_equals(i, k, tv)
            if cond:
                where.append(cond)
                params += tag_params
        src = (
            f" FROM {self._db.quote(self._db.tables.series)} AS s"
            f" JOIN {self._db.quote(self._db.tables.raw)} AS r ON r.group_id = s.group_id"
            " AND r.time_ns >= :lo AND r.time_ns < :hi"
            f" WHERE {' AND '.join(where)}"
        )
        if agg is Aggregate.RATE:
            sql = (
                f"SELECT s.id, s.host, s.tags, r.time_ns, {value} AS v{src}"
                " ORDER BY s.id, r.time_ns"
            )
        elif agg is Aggregate.LAST:
            sql = dialect.last_per_series(value, src)
        else:
            fn = _SQL_FN[agg]
            sql = f"SELECT s.id, s.host, s.tags, {fn}({value}){src} GROUP BY s.id, s.host, s.tags"
        with self._db.reading() as conn:
            found: list[Any] = list(conn.execute(text(sql).bindparams(*params)).all())
        if agg in (Aggregate.RATE, Aggregate.LAST):
            per: dict[int, tuple[str, str, list[tuple[int, float]]]] = {}
            for sid, host, tags_s, t, v in found:
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
            grouped = [(host, tags_s, v) for _, host, tags_s, v in found]
        # Hosts share a handful of tag sets: parse, check and sort each one once.
        keys: dict[str, tuple[tuple[str, str], ...] | None] = {}
        out = []
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

    def hosts(self) -> list[str]:
        """Every host with a current series."""
        s, lt = self._db.tables.series, self._db.tables.latest
        stmt = select(s.c.host).join(lt, lt.c.series_id == s.c.id).distinct()
        with self._db.reading() as conn:
            return sorted(conn.execute(stmt).scalars().all())

    def series(self, host: str) -> list[SeriesKey]:
        """Every series of a host that still has data."""
        s, lt = self._db.tables.series, self._db.tables.latest
        stmt = (
            select(s.c.host, s.c.measurement, s.c.field, s.c.tags)
            .join(lt, lt.c.series_id == s.c.id)
            .where(s.c.host == host)
        )
        with self._db.reading() as conn:
            found = conn.execute(stmt).all()
        return sorted(series_key(r[0], r[1], r[2], json.loads(r[3])) for r in found)
