"""InfluxDB 3.7+ (Core) through its v1-compatible API, emulated in front of influxd 1.6.7.

A 3.x database named `db/rp` is retention policy `rp` of database `db` on the real
server; a database is created by its first write or by `/api/v3/configure/database`.
What differs from 1.x, and where InfluxDB says so:

- `/ping` answers 200 with a JSON body; `X-Influxdb-Version` is the bare version, the build
  is "Core" (influxdata/influxdb v3.7.0, influxdb3_server/src/http.rs `ping`).
- /query is served by `iox_v1_query_api` (influxdata/influxdb3_core rev c7612d1,
  iox_v1_query_api/src/handler.rs; the rewrite is iox_query_influxql_rewrite/src/lib.rs):
  several statements per request; a statement's database is the one in the query (the
  `ON` of SHOW statements, the `db` qualifier of SELECT sources) else the `db` parameter;
  its RP is the SELECT sources' qualifier else the `rp` parameter, and is only used
  together with a database named in the query (`resolve_dbrp`: `db/rp`, or `db` for
  autogen/default). SELECT sources must all name one db/rp ("can only perform queries on
  a single database").
- SHOW statements keep their FROM clause, and the planner refuses a qualified one
  (iox_query_influxql/src/plan/planner.rs: "retention policy in from clause", "database
  name in from clause"), as DataFusion's "This feature is not implemented: …".
- Statements outside 3.x's InfluxQL grammar (influxdb_influxql_parser) fail the whole
  request as a parse error; CREATE DATABASE and DELETE parse but are not implemented
  (planner.rs). There is no delete by predicate (no /api/v2/delete route).
- A database that does not exist: "database not found: <name>"
  (influxdb3_internal_api/src/query_executor.rs).
- Writes: `db` + `rp` name the database `db/rp` (iox_http write::v1
  V1_NAMESPACE_RP_SEPARATOR); points older than the database's retention are accepted
  (204) and hidden from queries, not refused; other rejected lines are 400 `{"error":
  "partial write of line protocol occurred", "data": [...]}` (http.rs, validator.rs).
- Retention is a database setting: `POST`/`PUT /api/v3/configure/database` with `db` and
  `retention_period` (influxdb3_types/src/http.rs `CreateDatabaseRequest`), 409 when
  creating one that exists.
- Error bodies are `{"error": ...}` (http.rs `V1ErrorResponse`, `ErrorMessage`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tests.support.influxemu.influxql import Statement, parse, split_statements
from tests.support.influxemu.proxy import Backend, Query, Version, json_response

# influxdb_influxql_parser: the statements it parses; for the rest, its error text.
PARSED = {
    "SELECT",
    "SHOW DATABASES",
    "SHOW MEASUREMENTS",
    "SHOW RETENTION POLICIES",
    "SHOW TAG KEYS",
    "SHOW TAG VALUES",
    "SHOW FIELD KEYS",
    "CREATE DATABASE",
    "DELETE",
    "DROP MEASUREMENT",
    "EXPLAIN",
}
PARSE_ERRORS = {
    "SHOW": "invalid SHOW statement, expected DATABASES, FIELD, MEASUREMENTS, "
    "RETENTION, or TAG following SHOW",
    "DROP": "invalid DROP statement, expected MEASUREMENT",
    "CREATE": "invalid CREATE statement, expected DATABASE",
}
NOT_IMPLEMENTED = {"CREATE DATABASE", "DELETE", "DROP MEASUREMENT"}
SHOWS_WITH_FROM = {"SHOW MEASUREMENTS", "SHOW TAG KEYS", "SHOW TAG VALUES", "SHOW FIELD KEYS"}


def not_implemented(what: str) -> dict[str, Any]:
    """A statement error as DataFusion words NotImplemented."""
    return {"error": f"This feature is not implemented: {what}"}


class V37(Version):
    """InfluxDB 3.7 Core."""

    version = "3.7.0"
    build = "Core"

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        # The 3.x databases that exist: (db, rp) on the real server.
        self.databases: set[tuple[str, str]] = set()

    async def ping(self) -> Response:
        body = {"version": self.version, "revision": "emulated", "process_id": "0"}
        return json_response(body, 200, self.headers())

    async def query(self, query: Query) -> Response:
        texts = split_statements(query.q)
        parsed = [parse(t) for t in texts]
        for st in parsed:
            if st.kind not in PARSED:
                word = st.kind.split(" ")[0]
                message = PARSE_ERRORS.get(word, "invalid SQL statement")
                return json_response(
                    {"results": [{"statement_id": 0, "error": f"parsing error: {message}"}]},
                    headers=self.headers(),
                )
        out = []
        for i, st in enumerate(parsed):
            result = await self._run(st, query)
            out.append({**result, "statement_id": i})
        return json_response({"results": out}, headers=self.headers())

    async def _run(self, st: Statement, query: Query) -> dict[str, Any]:
        if st.kind in NOT_IMPLEMENTED:
            return not_implemented(st.kind)
        if st.kind == "SHOW DATABASES":
            names = sorted(f"{d}/{r}" for d, r in self.databases)
            return {
                "series": [
                    {"name": "databases", "columns": ["name"], "values": [[n] for n in names]}
                ]
            }
        stmt_db, stmt_rp = st.on, ""
        if st.kind == "SELECT":
            pairs = {(s.database, s.retention_policy) for s in st.sources}
            if len(pairs) > 1:
                return {"error": "can only perform queries on a single database"}
            if pairs:
                stmt_db, stmt_rp = next(iter(pairs))
        elif st.kind in SHOWS_WITH_FROM:
            for s in st.sources:
                if s.database:
                    return not_implemented("database name in from clause")
                if s.retention_policy:
                    return not_implemented("retention policy in from clause")
        rp = stmt_rp or query.rp
        if stmt_db:
            database = f"{stmt_db}/{rp}" if rp and rp not in ("autogen", "default") else stmt_db
        else:
            database = query.db
        if not database:
            return {"error": "database name required"}
        db, _, rp = database.partition("/")
        if (db, rp) not in self.databases:
            return {"error": f"database not found: {database}"}
        if st.kind == "SHOW TAG VALUES" and st.with_key and not st.has_where:
            return await self.backend.tag_values(db, rp, st.with_key)  # that database only
        (result,) = await self.backend.query(
            [st.text], db=db, rp=rp, epoch=query.params.get("epoch", "ns")
        )
        return result

    async def write(self, request: Request, body: bytes) -> Response:
        params = request.query_params
        db, rp = params.get("db", ""), params.get("rp", "")
        await self._create(db, rp, None)
        resp = await self.backend.forward(request, body)
        if resp.status_code < 300:
            return Response(status_code=204, headers=self.headers())
        message = str(resp.json().get("error", resp.text))
        if "partial write" in message and "beyond retention policy" in message:
            # 3.x takes old points and hides them from queries: nothing to report.
            return Response(status_code=204, headers=self.headers())
        dropped = int(m.group(1)) if (m := re.search(r"dropped=(\d+)", message)) else 1
        lines = [{"original_line": "", "line_number": 0, "error_message": message}] * dropped
        return json_response(
            {"error": "partial write of line protocol occurred", "data": lines},
            400,
            self.headers(),
        )

    async def _create(self, db: str, rp: str, retention_s: int | None) -> bool:
        """Create database `db/rp` (`db` when rp is empty) if missing; False if it existed."""
        if (db, rp) in self.databases:
            return False
        duration = f"{retention_s}s" if retention_s else "INF"
        stmts = [f'CREATE DATABASE "{db}"']
        if rp:
            stmts.append(
                f'CREATE RETENTION POLICY "{rp}" ON "{db}" DURATION {duration} REPLICATION 1'
            )
        await self.backend.query(stmts)
        self.databases.add((db, rp))
        return True

    async def other(self, request: Request, body: bytes) -> Response:
        if request.url.path == "/api/v3/configure/database" and request.method in ("POST", "PUT"):
            spec = json.loads(body)
            db, _, rp = str(spec["db"]).partition("/")
            retention_s = _seconds(spec.get("retention_period"))
            if request.method == "POST":
                if not await self._create(db, rp, retention_s):
                    return json_response(
                        {"error": "attempted to create a resource that already exists"}, 409
                    )
                return Response(status_code=200)
            if (db, rp) not in self.databases:
                return json_response({"error": f"Database not found {spec['db']}"}, 404)
            duration = f"{retention_s}s" if retention_s else "INF"
            await self.backend.query(
                [f'ALTER RETENTION POLICY "{rp}" ON "{db}" DURATION {duration}']
            )
            return Response(status_code=200)
        return json_response({"error": "not found"}, 404, self.headers())


def _seconds(text: Any) -> int | None:
    """Seconds of a humantime duration such as "7d" or "86400s"."""
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)\s*([smhdw])", str(text)))


class V36(V37):
    """InfluxDB 3.6 Core, which fleetmon refuses: /query is `query_influxql_inner`
    (influxdata/influxdb v3.6.0, influxdb3_server/src/http.rs) with one statement per
    request and a database in the statement that must equal the `db` parameter."""

    version = "3.6.0"

    async def query(self, query: Query) -> Response:
        texts = split_statements(query.q)
        error = None
        if len(texts) != 1:
            error = "must provide only one InfluxQl statement per query"
        else:
            st = parse(texts[0])
            # resolve_dbrp: a qualified source names database "<db>/<rp>".
            named = {
                f"{s.database}/{s.retention_policy}" if s.retention_policy else s.database
                for s in st.sources
                if s.database
            } | ({st.on} - {""})
            if query.db and named and named != {query.db}:
                error = (
                    f"provided a database in both the parameters ({query.db}) and query string "
                    f"({next(iter(named))}) that do not match, if providing a query that "
                    "specifies the database, you can omit the 'database' parameter from your "
                    "request"
                )
        if error is not None:
            return json_response({"error": error}, 400, self.headers())
        return await super().query(query)
