"""Fast InfluxDB line-protocol encoding of fleetmon points (precision: nanoseconds).

Escaping follows what InfluxDB 1.x, 2.x and 3.x all parse the same way: measurement
escapes comma and space; tag keys, tag values and field keys escape comma, equals and
space; string field values escape backslash and double quote. Names that need more (line
breaks, backslashes) are first made safe by `names.encode_name`.

Every number is written as a float (``1`` rather than ``1i``): a field then never changes
type between an agent sending ``0`` and one sending ``0.5``, which InfluxDB would reject
as a field type conflict. Floats are written in their shortest round-trip form (orjson's,
e.g. ``1e-7``), which InfluxDB parses back to the same double. Booleans become 1.0/0.0.
Non-finite floats have no line-protocol form and are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import orjson

from fleetmon_db.timeseries.influx.names import encode_name
from fleetmon_db.timeseries.model import FieldValue, Point, PointBatch, PointShape

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
        return orjson.dumps(float(value)).decode() if -_INF < value < _INF else None
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return escape_string_field(str(value))
    return None


_PLAIN = frozenset({float, int})
# orjson writes integers of 64 bits (signed or not); larger ones take the checked path.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _plain_finite(values: Sequence[object]) -> bool:
    """True when every value is a plain float or int and none is infinite or NaN."""
    if not _PLAIN.issuperset(map(type, values)):
        return False
    try:
        return math.isfinite(sum(values))  # type: ignore[arg-type]
    except OverflowError:  # an int too large for a float
        return False


def _orjson_safe(values: Iterable[object]) -> bool:
    """True when no value is an int that orjson cannot write (beyond 64 bits)."""
    return all(_INT_MIN <= v <= _INT_MAX for v in values if type(v) is int)


class LineEncoder:
    """Encodes points to line protocol, caching one line template per series and field set.

    A template is the escaped line with ``%s`` where the values and the timestamp go
    (``cpu,cpu=cpu0,host=web usage_user=%s,usage_idle=%s %s``), so encoding a batch is one
    dict lookup per point, one orjson call that writes every number of the batch, and one
    ``%`` over the joined templates.
    """

    def __init__(self, max_cache: int = 200_000) -> None:
        self._prefixes: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
        self._keys: dict[str, str] = {}
        self._lines: dict[PointShape, bytes] = {}
        self._max_cache = max_cache

    def prefix(self, host: str, measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
        """The escaped ``measurement,host=...,tags`` of a point (tags as a shape holds them)."""
        ck = (host, measurement, tags)
        got = self._prefixes.get(ck)
        if got is None:
            items = [(encode_name(k), encode_name(v)) for k, v in tags if k != "host"]
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

    def _template(self, shape: PointShape) -> bytes:
        host, measurement, tags, names = shape
        fields = ",".join(self.field_key(n).replace("%", "%%") + "%s" for n in names)
        prefix = self.prefix(host, measurement, tags).replace("%", "%%")
        template = f"{prefix} {fields} %s\n".encode()
        if len(self._lines) >= self._max_cache:
            self._lines.clear()
        self._lines[shape] = template
        return template

    def _literal(
        self, shape: PointShape, values: Sequence[FieldValue], t: int
    ) -> tuple[bytes, int]:
        """One point's whole line with values formatted one by one ('%' escaped)."""
        host, measurement, tags, names = shape
        parts = []
        for name, value in zip(names, values, strict=True):
            text = format_field(value)
            if text is not None:
                parts.append(self.field_key(name) + text)
        if not parts:
            return b"", 0
        prefix = self.prefix(host, measurement, tags)
        line = f"{prefix} {','.join(parts)} {t}\n".replace("%", "%%")
        return line.encode(), len(parts)

    def _checked(self, batch: PointBatch, templates: list[bytes]) -> tuple[bytes, int]:
        """Point by point: values without a plain form make a literal line."""
        args: list[FieldValue] = []
        flat = batch.flat
        written = 0
        o = 0
        for i, shape in enumerate(batch.shapes):
            n = len(shape[3])
            values = flat[o : o + n]
            if _plain_finite(values) and _orjson_safe(values):
                args.extend(flat[o : o + n + 1])
                written += n
            else:
                templates[i], fields = self._literal(shape, values, batch.times[i])
                written += fields
            o += n + 1
        texts = tuple(orjson.dumps(args)[1:-1].split(b",")) if args else ()
        return b"".join(templates) % texts, written

    def encode_batch(self, batch: PointBatch) -> tuple[bytes, int]:
        """Line protocol for a batch and the number of field values written."""
        if not batch.shapes:
            return b"", 0
        cache = self._lines
        templates = [cache.get(s) or self._template(s) for s in batch.shapes]
        flat = batch.flat
        # Common case: every value (and time) is a plain finite number that orjson writes
        # in one call; '%' then places the texts into the joined templates.
        if _plain_finite(flat):
            try:
                texts = orjson.dumps(flat)[1:-1].split(b",")
            except orjson.JSONEncodeError:  # an int beyond 64 bits: the checked path
                pass
            else:
                return b"".join(templates) % tuple(texts), len(flat) - len(templates)
        return self._checked(batch, templates)

    def encode(self, points: Sequence[Point]) -> tuple[bytes, int]:
        """Line protocol for `points` and the number of field values written."""
        return self.encode_batch(PointBatch.of(points))
