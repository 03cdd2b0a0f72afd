"""The SQL store's tables (every name carries a configurable prefix, ``ts_`` by default).

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

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql

_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,30}")
_TIER_NAME = re.compile(r"[A-Za-z0-9_]{1,32}")


def canonical_tags(tags: Mapping[str, str]) -> str:
    """Tags as canonical JSON (sorted keys, no spaces); the `host` key is not a tag."""
    return json.dumps(
        {k: tags[k] for k in sorted(tags) if k != "host"}, ensure_ascii=False, separators=(",", ":")
    )


def check_tier_name(name: str) -> None:
    """Raise ValueError unless a tier name fits the tier columns."""
    if not _TIER_NAME.fullmatch(name):
        raise ValueError(f"tier name {name!r}: letters, digits, _ (at most 32)")


@dataclass(frozen=True, slots=True)
class Tables:
    """The store's tables, named with one prefix."""

    metadata: MetaData
    series: Table
    group: Table
    raw: Table
    rollup: Table
    latest: Table
    state: Table
    dirty: Table

    @classmethod
    def define(cls, p: str) -> Tables:
        """The tables with prefix `p` (lowercase letters, digits and _)."""
        if not _PREFIX.fullmatch(p):
            raise ValueError(f"table_prefix {p!r}: lowercase letters, digits, _")
        md = MetaData()
        series = Table(
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
        group = Table(
            f"{p}series_group",
            md,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("host", Text, nullable=False),
            Column("measurement", Text, nullable=False),
            Column("tags", Text, nullable=False),
            UniqueConstraint("host", "measurement", "tags", name=f"{p}series_group_key"),
        )
        raw = Table(
            f"{p}raw",
            md,
            Column("group_id", Integer, primary_key=True, autoincrement=False),
            Column("time_ns", BigInteger, primary_key=True, autoincrement=False),
            Column("fields", Text().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
            Index(f"{p}raw_time", "time_ns"),  # rollups and retention scan by time
            sqlite_with_rowid=False,
        )
        rollup = Table(
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
        latest = Table(
            f"{p}latest",
            md,
            Column("series_id", Integer, primary_key=True, autoincrement=False),
            Column("time_ns", BigInteger, nullable=False),
            Column("value", Double),
            Column("svalue", Text),
        )
        state = Table(
            f"{p}rollup_state",
            md,
            Column("tier", String(32), primary_key=True),
            Column("watermark_ns", BigInteger, nullable=False),
        )
        dirty = Table(
            f"{p}rollup_dirty",
            md,
            Column("tier", String(32), primary_key=True),
            Column("bucket_ns", BigInteger, primary_key=True, autoincrement=False),
        )
        return cls(md, series, group, raw, rollup, latest, state, dirty)
