"""Fast InfluxDB line-protocol encoding of fleetmon points (precision: nanoseconds).

Escaping follows what InfluxDB 1.x, 2.x and 3.x all parse the same way: measurement
escapes comma and space; tag keys, tag values and field keys escape comma, equals and
space; string field values escape backslash and double quote. Names that need more (line
breaks, backslashes) are first made safe by `names.encode_name`.

Every number is written as a float (``1`` rather than ``1i``): a field then never changes
type between an agent sending ``0`` and one sending ``0.5``, which InfluxDB would reject
as a field type conflict. Booleans become 1.0/0.0. Non-finite floats have no line-protocol
form and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from fleetmon_db.timeseries.base import FieldValue, Point
from fleetmon_db.timeseries.names import encode_name

_MEASUREMENT = str.maketrans({",": "\\,", " ": "\\ "})
_KEY = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_INF = float("inf")


def escape_measurement(stored: str) -> str:
    """Escape an already-encoded measurement name."""
    return stored.translate(_MEASUREMENT)


def escape_key(stored: str) -> str:
    """Escape an already-encoded tag key, tag value or field key."""
    return stored.translate(_KEY)


def escape_string_field(value: str) -> str:
    """A string field value in double quotes, with backslash and quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def series_prefix(measurement: str, tags: Iterable[tuple[str, str]]) -> str:
    """``measurement,k=v,...`` from already-encoded names; empty tag values are left out."""
    parts = [escape_measurement(measurement)]
    for k, v in sorted(tags):
        if v != "":
            parts.append(escape_key(k) + "=" + escape_key(v))
    return ",".join(parts)


def format_field(value: FieldValue) -> str | None:
    """The line-protocol form of one field value, or None when it cannot be written."""
    tv = type(value)
    if tv is float:
        return repr(value) if -_INF < value < _INF else None  # type: ignore[operator]
    if tv is bool:
        return "1.0" if value else "0.0"
    if tv is int:
        return str(value)
    if tv is str:
        return escape_string_field(value)  # type: ignore[arg-type]
    if isinstance(value, bool):
        return "1.0" if value else "0.0"
    if isinstance(value, int | float):
        return format_field(float(value))
    if isinstance(value, str):
        return escape_string_field(str(value))
    return None


class LineEncoder:
    """Encodes points to line protocol, caching the escaped series prefixes and field keys."""

    def __init__(self, max_cache: int = 200_000) -> None:
        self._prefixes: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
        self._keys: dict[str, str] = {}
        self._max_cache = max_cache

    def prefix(self, host: str, measurement: str, tags: Mapping[str, str]) -> str:
        """The escaped ``measurement,host=...,tags`` of a point."""
        ck = (host, measurement, tuple(tags.items()))
        got = self._prefixes.get(ck)
        if got is None:
            items = [(encode_name(k), encode_name(v)) for k, v in tags.items() if k != "host"]
            items.append(("host", encode_name(host)))
            got = series_prefix(encode_name(measurement), items)
            if len(self._prefixes) >= self._max_cache:
                self._prefixes.clear()
            self._prefixes[ck] = got
        return got

    def field_key(self, name: str) -> str:
        """The escaped field key followed by ``=``."""
        got = self._keys.get(name)
        if got is None:
            got = escape_key(encode_name(name)) + "="
            if len(self._keys) >= self._max_cache:
                self._keys.clear()
            self._keys[name] = got
        return got

    def encode(
        self, points: Sequence[Point], late_before_ns: int | None = None, window_ns: int = 0
    ) -> tuple[bytes, int, set[int]]:
        """Line protocol for `points`; field values written; windows of points before the mark.

        `late_before_ns`/`window_ns` collect the start of every rollup window (of width
        `window_ns`) that a point older than `late_before_ns` falls into.
        """
        lines: list[str] = []
        append = lines.append
        prefixes = self._prefixes
        keys = self._keys
        late: set[int] = set()
        late_mark = late_before_ns if late_before_ns is not None and window_ns > 0 else None
        written = 0
        inf = _INF
        for p in points:
            ck = (p.host, p.measurement, tuple(p.tags.items()))
            prefix = prefixes.get(ck)
            if prefix is None:
                prefix = self.prefix(p.host, p.measurement, p.tags)
            parts: list[str] = []
            for name, value in p.fields.items():
                key = keys.get(name)
                if key is None:
                    key = self.field_key(name)
                tv = type(value)
                if tv is float:
                    if -inf < value < inf:  # type: ignore[operator]
                        parts.append(key + repr(value))
                    continue
                text = format_field(value)
                if text is not None:
                    parts.append(key + text)
            if not parts:
                continue
            written += len(parts)
            t = p.time_ns
            append(prefix + " " + ",".join(parts) + " " + str(t))
            if late_mark is not None and t < late_mark:
                late.add(t - t % window_ns)
        if not lines:
            return b"", 0, late
        return ("\n".join(lines) + "\n").encode(), written, late
