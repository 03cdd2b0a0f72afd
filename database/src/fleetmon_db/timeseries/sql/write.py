"""Writes to the SQL store: one upserted row per point, latest values, late-window marks."""

# ruff: noqa: S608  -- table names are quoted identifiers from a validated prefix

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from sqlalchemy import select

from fleetmon_db.timeseries.model import FieldValue, Point, StoreError
from fleetmon_db.timeseries.rollup import LateCutoff, RollupScheduler
from fleetmon_db.timeseries.sql.database import Database
from fleetmon_db.timeseries.sql.dialect import RawRow
from fleetmon_db.timeseries.sql.schema import canonical_tags

_INF = float("inf")
_NOT_NUMERIC = re.compile(r"[^0-9.e+\-,]")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

# (host, measurement, tag items as the point holds them)
CacheKey = tuple[str, str, tuple[tuple[str, str], ...]]
# (group id, field -> '"sid":', field -> sid, field names -> their '"sid":' keys)
Entry = tuple[int, dict[str, str], dict[str, int], dict[tuple[str, ...], tuple[str, ...]]]


class SeriesIds:
    """The series dictionary's ids, cached: ids are never reused, so entries never go stale."""

    def __init__(self, db: Database) -> None:
        self._db = db
        t = db.tables
        ph = db.dialect.placeholder
        self._sql_group = (
            f"INSERT INTO {db.quote(t.group)} (host, measurement, tags)"
            f" VALUES ({ph}, {ph}, {ph}) ON CONFLICT DO NOTHING"
        )
        self._sql_series = (
            f"INSERT INTO {db.quote(t.series)} (host, measurement, field, tags, group_id)"
            f" VALUES ({ph}, {ph}, {ph}, {ph}, {ph}) ON CONFLICT DO NOTHING"
        )
        self.entries: dict[CacheKey, Entry] = {}

    def resolve(self, points: Sequence[Point]) -> None:
        """Create missing groups and series rows and load their ids into the cache."""
        groups = {(p.host, p.measurement, canonical_tags(p.tags)) for p in points}
        hosts = sorted({g[0] for g in groups})
        g, s = self._db.tables.group, self._db.tables.series
        gid_of: dict[tuple[str, str, str], int] = {}
        sid_of: dict[tuple[str, str, str, str], int] = {}
        with self._db.engine.begin() as conn:
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
            ent = self.entries.get(ck)
            if ent is None:
                ent = self.entries[ck] = (gid_of[(p.host, p.measurement, tj)], {}, {}, {})
            for f in p.fields:
                sid = sid_of[(p.host, p.measurement, f, tj)]
                ent[1][f] = f'"{sid}":'
                ent[2][f] = sid


@dataclass
class _Batch:
    """What one pass over a batch of points produced."""

    rows: list[RawRow] = dataclass_field(default_factory=list)
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


class SqlWriter:
    """`write` of the SQL store."""

    def __init__(
        self, db: Database, rollups: RollupScheduler[Any], clock: Callable[[], int]
    ) -> None:
        self._db = db
        self._rollups = rollups
        self._clock = clock
        self.ids = SeriesIds(db)
        t, ph = db.tables, db.dialect.placeholder
        latest = db.quote(t.latest)
        self._sql_raw = db.dialect.raw_upsert(db.quote(t.raw))
        self._sql_latest = (
            f"INSERT INTO {latest} (series_id, time_ns, value, svalue)"
            f" VALUES ({ph}, {ph}, {ph}, {ph})"
            " ON CONFLICT (series_id) DO UPDATE SET time_ns = excluded.time_ns,"
            " value = excluded.value, svalue = excluded.svalue"
            f" WHERE excluded.time_ns >= {latest}.time_ns"
        )
        self._sql_dirty = (
            f"INSERT INTO {db.quote(t.dirty)} (tier, bucket_ns) VALUES ({ph}, {ph})"
            " ON CONFLICT DO NOTHING"
        )

    def write(self, points: Sequence[Point]) -> int:
        """Upsert one row per point, the latest table, and dirty marks for late points."""
        cutoff = self._rollups.late_cutoff(self._clock())
        with self._db.errors():
            batches = [self._build(points, cutoff)]
            if batches[0].unresolved:
                self.ids.resolve(batches[0].unresolved)
                batches.append(self._build(batches[0].unresolved, cutoff))
                if batches[1].unresolved:
                    raise StoreError("series ids could not be resolved")
            rows = [r for b in batches for r in b.rows]
            if not rows:
                return 0
            late = set().union(*(b.late for b in batches))
            with self._db.engine.begin() as conn:
                if late and cutoff is not None:
                    marks = [(cutoff.tier, w) for w in sorted(late)]
                    conn.exec_driver_sql(self._sql_dirty, marks)
                conn.exec_driver_sql(self._sql_raw, self._db.dialect.raw_params(rows))
                conn.exec_driver_sql(self._sql_latest, self._latest_rows(batches))
        return sum(b.written for b in batches)

    def _build(self, points: Sequence[Point], cutoff: LateCutoff | None) -> _Batch:
        """Raw rows (JSON built by hand: ints and reprs only), latest values, late windows."""
        late_before = None if cutoff is None else cutoff.before_ns
        window_ns = 0 if cutoff is None else cutoff.window_ns
        b = _Batch()
        append = b.rows.append
        newest = b.newest
        cache = self.ids.entries
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
        entries = self.ids.entries
        for b in batches:
            for p in [p for _, p, _ in b.newest.values()] + b.others:
                _, _, sids, _ = entries[(p.host, p.measurement, tuple(p.tags.items()))]
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
