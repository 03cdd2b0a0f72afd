"""InfluxDB line protocol as Telegraf, Glances and collectd emit it.

Escapes: measurement `\\,` `\\ `; tag keys/values and field keys `\\,` `\\=` `\\ `; string
field values are double-quoted with `\\"` and `\\\\`. Field values: float, `123i`
(integer), `123u` (unsigned), booleans (t, T, true, True, TRUE, f, F, false, False, FALSE),
strings. Timestamps are integers in the request's precision; missing means "now".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fleetmon_db.timeseries import FieldValue

PRECISIONS = {
    "n": 1, "ns": 1, "u": 1_000, "us": 1_000, "µ": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
}  # fmt: skip
_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})


class LineError(ValueError):
    """A line that does not parse; the message names the line."""


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """One parsed line (time None when the line has no timestamp)."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    time: int | None


def _split(text: str, sep: str, quotes: bool = False) -> list[str]:
    """Split on `sep` where it is neither backslash-escaped nor (optionally) inside quotes."""
    if "\\" not in text and '"' not in text:
        return text.split(sep)
    parts: list[str] = []
    start = 0
    i = 0
    in_quotes = False
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if quotes and c == '"':
            in_quotes = not in_quotes
        elif c == sep and not in_quotes:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def _unescape(text: str, chars: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in chars:
            out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _pair(item: str, what: str, quotes: bool) -> tuple[str, str]:
    kv = _split(item, "=", quotes=quotes)
    if len(kv) < 2 or not kv[0]:
        raise LineError(f"{what} {item[:60]!r} is not key=value")
    return _unescape(kv[0], ",= "), "=".join(kv[1:])


_INT64 = 2**63
_UINT64 = 2**64


def _field_value(raw: str, key: str) -> FieldValue:
    if not raw:
        raise LineError(f"field {key!r} has no value")
    if raw[0] == '"':
        if len(raw) < 2 or raw[-1] != '"':
            raise LineError(f"field {key!r}: unterminated string")
        return raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    last = raw[-1]
    try:
        if last == "i":
            value = int(raw[:-1])
            if not -_INT64 <= value < _INT64:
                raise LineError(f"field {key!r}: integer out of the 64-bit range")
            return value
        if last == "u":
            value = int(raw[:-1])
            if not 0 <= value < _UINT64:
                raise LineError(f"field {key!r}: unsigned integer out of the 64-bit range")
            # Every number is stored as a float (the store's encoder); one that an int64
            # cannot hold is a float from here on, so the checks downstream see its value.
            return value if value < _INT64 else float(value)
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        return float(raw)
    except LineError:
        raise
    except ValueError:
        raise LineError(f"field {key!r}: invalid value {raw[:40]!r}") from None


def parse_line(line: str) -> ParsedLine:
    """Parse one non-empty, non-comment line."""
    sections = _split(line, " ", quotes=True)
    sections = [s for s in sections if s != ""]
    if len(sections) < 2:
        raise LineError("missing fields")
    if len(sections) > 3:
        raise LineError("unexpected text after the timestamp")
    series = _split(sections[0], ",")
    measurement = _unescape(series[0], ", ")
    if not measurement:
        raise LineError("missing measurement")
    tags: dict[str, str] = {}
    for item in series[1:]:
        k, v = _pair(item, "tag", quotes=False)
        tags[k] = _unescape(v, ",= ")
    fields: dict[str, FieldValue] = {}
    for item in _split(sections[1], ",", quotes=True):
        k, v = _pair(item, "field", quotes=True)
        fields[k] = _field_value(v, k)
    ts: int | None = None
    if len(sections) == 3:
        try:
            ts = int(sections[2])
        except ValueError:
            raise LineError(f"invalid timestamp {sections[2][:30]!r}") from None
    return ParsedLine(measurement, tags, fields, ts)


def data_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """The data lines of a body read in chunks, with their 1-based line numbers.

    Blank and comment lines are skipped (but numbered); a line may span chunks. Only one
    line and one chunk are held at a time, so a caller can stop early at a limit.
    """
    number = 0
    rest = b""
    for chunk in chunks:
        if rest:
            chunk = rest + chunk
        lines = chunk.split(b"\n")
        rest = lines.pop()
        for raw in lines:
            number += 1
            line = raw.strip()
            if line and line[0] != 0x23:  # '#'
                yield number, line
    line = rest.strip()
    if line and line[0] != 0x23:
        yield number + 1, line


# The start of a data line: not blank (as bytes.strip sees it), not a comment.
_DATA_LINE = re.compile(rb"^[ \t\r\x0b\x0c]*[^ \t\r\n\x0b\x0c#]", re.MULTILINE)


def count_data_lines(chunks: Iterable[bytes], stop_above: int) -> int:
    """How many data lines the chunks hold, counted at C speed without parsing them; the
    count stops (and the rest is not read) as soon as it is above `stop_above`."""
    count = 0
    rest = b""
    for chunk in chunks:
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            rest += chunk
            continue
        block = rest + chunk[:cut] if rest else chunk[:cut]
        rest = chunk[cut:]
        count += len(_DATA_LINE.findall(block))
        if count > stop_above:
            return count
    if _DATA_LINE.match(rest):
        count += 1
    return count


def parse_bytes(raw: bytes) -> ParsedLine:
    """Parse one data line as sent (UTF-8)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LineError("not UTF-8") from None
    return parse_line(text)
