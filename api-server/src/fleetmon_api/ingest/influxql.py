"""The few InfluxQL statements InfluxDB clients send before they write, answered like InfluxDB.

Clients check a server before writing: influxdb-python (Glances `--export influxdb`) lists
`SHOW DATABASES` and gives up when its database is missing; Telegraf's InfluxDB output sends
`CREATE DATABASE`; some tools ask `SHOW RETENTION POLICIES` or `SHOW MEASUREMENTS` (answered
with the asking host's own measurements). fleetmon stores every host's
points in one place whatever database a client names, so each database exists, creating one
changes nothing, and each has the one retention policy writes go to. Anything else is refused
(reads go through fleetmon's own API), with a message that says so.

Shapes follow InfluxDB 1.x's `/query` (services/httpd/handler.go, query/result.go): a body
`{"results": [{"statement_id": N, "series": [...]}]}`, and `{"error": "..."}` with 400 for a
statement that does not parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# The database fleetmon lists when the client names none.
DEFAULT_DATABASE = "fleetmon"
# What `SHOW RETENTION POLICIES` reports: InfluxDB 1.x's default policy (infinite duration,
# 7-day shard groups); fleetmon's own retention tiers apply whatever a client writes.
_POLICY_COLUMNS = ["name", "duration", "shardGroupDuration", "replicaN", "default"]
_POLICY = ["autogen", "0s", "168h0m0s", 1, True]

# An identifier as InfluxQL writes one: bare (letters, digits, _) or double-quoted with `\"`.
_IDENT = r'(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\\n]|\\.)+")'
_SHOW_DATABASES = re.compile(r"SHOW\s+DATABASES", re.I)
_CREATE_DATABASE = re.compile(rf"CREATE\s+DATABASE\s+({_IDENT})(?:\s+WITH\s+.*)?", re.I | re.S)
_SHOW_POLICIES = re.compile(rf"SHOW\s+RETENTION\s+POLICIES(?:\s+ON\s+({_IDENT}))?", re.I)
_SHOW_MEASUREMENTS = re.compile(rf"SHOW\s+MEASUREMENTS(?:\s+ON\s+{_IDENT})?", re.I)
_SUPPORTED = "SHOW DATABASES, CREATE DATABASE, SHOW RETENTION POLICIES and SHOW MEASUREMENTS"
MAX_QUERY = 4096


class QueryError(ValueError):
    """A query fleetmon does not answer; the message is InfluxDB's `error` text."""


def _statements(q: str) -> list[str]:
    """Statements separated by `;` outside double quotes (identifiers may contain `;`)."""
    out: list[str] = []
    start = 0
    quoted = False
    i = 0
    while i < len(q):
        c = q[i]
        if c == "\\" and quoted:
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == ";" and not quoted:
            out.append(q[start:i])
            start = i + 1
        i += 1
    out.append(q[start:])
    return [s.strip() for s in out if s.strip()]


def answer(q: str, db: str | None, measurements: Callable[[], list[str]]) -> dict[str, Any]:
    """The `/query` body for `q` (the `db` parameter names the default database;
    `measurements` lists those of the asking host, for `SHOW MEASUREMENTS`).

    QueryError (400) for an empty query, a statement fleetmon does not answer, or a
    statement that needs a database when none is named.
    """
    if len(q) > MAX_QUERY:
        raise QueryError(f"query longer than {MAX_QUERY} characters")
    statements = _statements(q)
    if not statements:
        raise QueryError('missing required parameter "q"')
    results: list[dict[str, Any]] = []
    for sid, stmt in enumerate(statements):
        result: dict[str, Any] = {"statement_id": sid}
        if _SHOW_DATABASES.fullmatch(stmt):
            names = [DEFAULT_DATABASE] + ([db] if db and db != DEFAULT_DATABASE else [])
            result["series"] = [
                {"name": "databases", "columns": ["name"], "values": [[n] for n in names]}
            ]
        elif _CREATE_DATABASE.fullmatch(stmt):
            pass  # every database exists: creating one is a success that changes nothing
        elif m := _SHOW_POLICIES.fullmatch(stmt):
            if not (m.group(1) or db):
                raise QueryError("database name required")
            result["series"] = [{"columns": _POLICY_COLUMNS, "values": [_POLICY]}]
        elif _SHOW_MEASUREMENTS.fullmatch(stmt):
            # Only the asking host's: a key never learns what other hosts send.
            names = measurements()
            if names:
                values = [[n] for n in names]
                result["series"] = [{"name": "measurements", "columns": ["name"], "values": values}]
        else:
            raise QueryError(
                f"fleetmon answers only {_SUPPORTED} on /query, not {stmt[:80]!r}; "
                "read data through fleetmon's /api/v1/metrics API"
            )
        results.append(result)
    return {"results": results}
