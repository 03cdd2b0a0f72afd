"""Quoting for InfluxQL: every value spliced into a query goes through here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from fleetmon_db.timeseries.influx.names import encode_name


def ident(name: str) -> str:
    """A double-quoted identifier (database, retention policy, measurement, key, alias)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def literal(value: str) -> str:
    """A single-quoted string literal; backslash, quote and line break are escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def integer(value: int) -> str:
    """An integer (time bounds, limits); refuses anything that is not an int."""
    if type(value) is not int:
        raise TypeError(f"expected int, got {type(value).__name__}")
    return str(value)


def number(value: float) -> str:
    """A float literal (percentile ranks)."""
    f = float(value)
    if not (f == f and abs(f) != float("inf")):
        raise ValueError("non-finite number in query")
    return repr(f)


def time_range(start_ns: int | None, end_ns: int | None) -> list[str]:
    """Conditions bounding time to [start, end)."""
    out = []
    if start_ns is not None:
        out.append(f"time >= {integer(start_ns)}")
    if end_ns is not None:
        out.append(f"time < {integer(end_ns)}")
    return out


def tag_conditions(hosts: Sequence[str] | None, tags: Mapping[str, str]) -> list[str]:
    """Conditions matching any of `hosts` (None: any host) and every tag exactly."""
    out = []
    if hosts is not None:
        out.append(
            "(" + " OR ".join(f"{ident('host')} = {literal(encode_name(h))}" for h in hosts) + ")"
        )
    for k, v in sorted(tags.items()):
        out.append(f"{ident(encode_name(k))} = {literal(encode_name(v))}")
    return out


def where(conditions: Sequence[str]) -> str:
    """`` WHERE a AND b`` or an empty string."""
    return (" WHERE " + " AND ".join(conditions)) if conditions else ""


_REGEX_SPECIAL = frozenset("\\.+*?()|[]{}^$/")


def host_regex(hosts: Iterable[str]) -> str:
    """An InfluxQL regex literal matching exactly these hosts (stored form)."""
    alts = (
        "".join("\\" + c if c in _REGEX_SPECIAL else c for c in encode_name(h))
        for h in sorted(set(hosts))
    )
    return "/^(?:" + "|".join(alts) + ")$/"
