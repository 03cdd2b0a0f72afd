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

import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain

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


def format_field(value: object) -> str | None:
    """The line-protocol form of one field value, or None when it cannot be written."""
    if isinstance(value, bool):
        return "1.0" if value else "0.0"
    if isinstance(value, float):
        return repr(float(value)) if -_INF < value < _INF else None
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return escape_string_field(str(value))
    return None


_PLAIN = frozenset({float, int})


def _plain_finite(values: Iterable[object]) -> bool:
    """True when every value is a plain float or int and none is infinite or NaN."""
    values = tuple(values)
    if not _PLAIN.issuperset(map(type, values)):
        return False
    try:
        return math.isfinite(sum(values))  # type: ignore[arg-type]
    except OverflowError:  # an int too large for a float: let the slow path decide
        return False


class LineEncoder:
    """Encodes points to line protocol, caching the escaped series prefixes and field keys."""

    def __init__(self, max_cache: int = 200_000) -> None:
        self._prefixes: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
        self._keys: dict[str, str] = {}
        self._templates: dict[tuple[str, ...], str] = {}
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

    def _template(self, names: tuple[str, ...]) -> str:
        template = ",".join(self.field_key(n).replace("%", "%%") + "%r" for n in names)
        if len(self._templates) >= self._max_cache:
            self._templates.clear()
        self._templates[names] = template
        return template

    def _slow_fields(self, fields: Mapping[str, FieldValue]) -> list[str]:
        parts = []
        for name, value in fields.items():
            text = format_field(value)
            if text is not None:
                parts.append(self.field_key(name) + text)
        return parts

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
        templates = self._templates
        late: set[int] = set()
        late_mark = late_before_ns if late_before_ns is not None and window_ns > 0 else None
        written = 0
        # '%r' of a finite float or of an int is a valid line-protocol float, so when every
        # value of the batch is one of those, a per-shape template ("k1=%r,k2=%r") formats a
        # point's fields in one C call. One pass over the batch's value types and one sum
        # (finite unless some value is inf/nan, or the sum overflows) prove it; otherwise
        # each point is checked on its own and only failing points take the slow path.
        all_values = [tuple(p.fields.values()) for p in points]
        batch_ok = _plain_finite(chain.from_iterable(all_values))
        for p, values in zip(points, all_values, strict=True):
            prefix = prefixes.get((p.host, p.measurement, tuple(p.tags.items())))
            if prefix is None:
                prefix = self.prefix(p.host, p.measurement, p.tags)
            n = len(values)
            if batch_ok or _plain_finite(values):
                if not n:
                    continue
                names = tuple(p.fields)
                template = templates.get(names)
                if template is None:
                    template = self._template(names)
                body = template % values
            else:
                parts = self._slow_fields(p.fields)
                body = ",".join(parts)
                n = len(parts)
                if not n:
                    continue
            written += n
            t = p.time_ns
            append(f"{prefix} {body} {t}")
            if late_mark is not None and t < late_mark:
                late.add(t - t % window_ns)
        if not lines:
            return b"", 0, late
        return ("\n".join(lines) + "\n").encode(), written, late
