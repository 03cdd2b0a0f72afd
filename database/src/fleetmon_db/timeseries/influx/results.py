"""Reading InfluxDB's /query answers: series rows, series keys (names decoded), values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from fleetmon_db.timeseries.influx.client import Result
from fleetmon_db.timeseries.influx.names import decode_name
from fleetmon_db.timeseries.model import NS, FieldValue, SeriesKey, series_key

Row = tuple[str, dict[str, str], list[str], list[list[Any]]]


def rows(result: Result) -> Iterator[Row]:
    """(stored measurement, stored tags, columns, values) of every series of a result."""
    for s in result.get("series") or ():
        # A series without rows has no "values" (SHOW SHARDS: a database with no shards).
        yield s.get("name", ""), s.get("tags") or {}, s.get("columns") or [], s.get("values") or []


def number(v: Any) -> FieldValue:
    """A field value as read: strings stay strings, every number is a float."""
    if isinstance(v, str):
        return v
    return float(v)


def key(stored_name: str, stored_tags: Mapping[str, str], stored_field: str) -> SeriesKey:
    """The series key of stored names (host tag split off, empty tag values dropped)."""
    tags = {
        decode_name(k): decode_name(v) for k, v in stored_tags.items() if k != "host" and v != ""
    }
    return series_key(
        decode_name(stored_tags.get("host", "")),
        decode_name(stored_name),
        decode_name(stored_field),
        tags,
    )


class KeyDecoder:
    """`key` for many series of one measurement and field: a thousand hosts share a handful
    of tag sets, so each stored tag set is decoded once."""

    def __init__(self, stored_name: str, stored_field: str) -> None:
        self._m, self._f = stored_name, stored_field
        self._name, self._field = decode_name(stored_name), decode_name(stored_field)
        self._tag_sets: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}

    def __call__(self, stored_tags: Mapping[str, str]) -> SeriesKey:
        """The key of the series with these stored tags (host included)."""
        rest = dict(stored_tags)
        host = decode_name(rest.pop("host", ""))
        raw = tuple(rest.items())
        tags = self._tag_sets.get(raw)
        if tags is None:
            tags = self._tag_sets[raw] = key(self._m, rest, self._f).tags
        return SeriesKey(host, self._name, self._field, tags)


def tag_items(stored_tags: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Stored tags as sorted items without the empty ones."""
    # GROUP BY * over several measurements reports every tag key, "" where a series lacks it.
    return tuple(sorted((k, v) for k, v in stored_tags.items() if v != ""))


def rfc3339_ns(text: str) -> int:
    """An RFC 3339 time (as SHOW SHARDS answers) in epoch nanoseconds, whole seconds."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * NS
