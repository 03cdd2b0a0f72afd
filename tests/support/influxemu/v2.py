"""InfluxDB 2.7.12 through its v1-compatibility API, emulated in front of influxd 1.6.7.

Each buckets `<db>/<rp>` is a retention policy `rp` of database `db` on the real server
(created by the test, as a deployment creates the buckets). What differs from 1.x, and
where InfluxDB says so (influxdata/influxdb, tag v2.7.12):

- DBRP mappings (dbrp/service.go, v1/coordinator/statement_executor.go): a bucket named
  `db/rp` gets a virtual mapping that is never the default (PR #23626). Statements that
  need the default RP fail with "default retention policy not set for: <db>" unless a
  default mapping was created (`POST /api/v2/dbrps`): SHOW TAG VALUES and SHOW TAG KEYS
  always (`getDefaultRP`, the rp parameter is not used; they read that bucket only), DELETE
  always, and SELECT or SHOW
  FIELD KEYS whose source has no RP when the request has no `rp` (`normalizeMeasurement`).
- Statements the v1 coordinator does not implement (`StatementExecutor.ExecuteStatement`):
  "not implemented: DROP SERIES" and the like, as a statement error (influxql/errors.go).
- Error bodies are `{"code", "message"}` (kit/transport/http/error_handler.go); a request
  without the token is 401 "unauthorized access" (authorizer/ http auth handler).
- A partial write is 422 "unprocessable entity", message "failure writing points to
  database: partial write: dropped N points outside retention policy of duration … dropped=N"
  (http/legacy/write_handler.go, v1/coordinator/points_writer.go `SummariseDropped`, #26303).
- `/api/v2/delete` (http/delete_handler.go; predicate/parser.go: `key = "value"` joined by
  AND, values as double-quoted identifiers) is run on the real server as an InfluxQL
  DELETE with the same tag conditions and time range. Not emulated: 1.6.7's DELETE spans
  every RP of the database, where 2.7 deletes from the one bucket.
- `/api/v2/buckets`: `GET ?name=` lists the bucket (id and orgID) when the RP exists;
  `POST` creates it (what `influx bucket create` sends; see influx_cli.py).
- `/api/v2/dbrps`: `POST` creates a mapping; a default one makes unqualified reads work.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tests.support.influxemu.influxql import IDENT, WORD, Statement, tokens
from tests.support.influxemu.proxy import Backend, Query, Version, go_duration, json_response

ORG_ID = "0a1b2c3d4e5f6071"

# v1/coordinator/statement_executor.go, ExecuteStatement: the statements fleetmon could send
# that 2.7 answers with iql.ErrNotImplemented.
NOT_IMPLEMENTED = {
    "ALTER RETENTION POLICY",
    "CREATE DATABASE",
    "CREATE RETENTION POLICY",
    "DROP DATABASE",
    "DROP SERIES",
    "DROP RETENTION POLICY",
    "DROP SHARD",
    "SHOW SHARDS",
    "SHOW SHARD GROUPS",
}
# Statements that resolve the database's default mapping whatever the request says.
NEEDS_DEFAULT = {"SHOW TAG VALUES", "SHOW TAG KEYS", "DELETE", "DROP MEASUREMENT"}
# Statements whose FROM sources are normalised with the rp parameter, else the default.
NORMALISED = {"SELECT", "SHOW FIELD KEYS", "SHOW MEASUREMENTS", "SHOW SERIES"}


def bucket_id(name: str) -> str:
    """A stable 16-hex-digit id for a bucket name."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


class V27(Version):
    """InfluxDB 2.7.12 OSS."""

    version = "v2.7.12"
    build = "OSS"

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        self.defaults: dict[str, str] = {}  # database -> RP of its default mapping

    async def statement(self, st: Statement, query: Query) -> dict[str, Any] | None:
        if st.kind in NOT_IMPLEMENTED:
            return {"error": f"not implemented: {st.kind}"}
        db = st.on or query.db
        if st.kind in NEEDS_DEFAULT and db not in self.defaults:
            return {"error": f"default retention policy not set for: {db}"}
        if st.kind == "SHOW TAG VALUES" and st.with_key and not st.has_where:
            # Only the default mapping's bucket is read (executeShowTagValues).
            return await self.backend.tag_values(db, self.defaults[db], st.with_key)
        if st.kind in NORMALISED and not query.rp:
            for src in st.sources:
                src_db = src.database or query.db
                if not src.retention_policy and src_db not in self.defaults:
                    return {"error": f"default retention policy not set for: {src_db}"}
        return None

    def forward_params(self, query: Query) -> dict[str, str]:
        # Unqualified sources read the default mapping's RP (or the rp parameter).
        rp = query.rp or self.defaults.get(query.db, "")
        return {"rp": rp} if rp else {}

    async def write(self, request: Request, body: bytes) -> Response:
        resp = await self.backend.forward(request, body)
        if resp.status_code < 300:
            return Response(status_code=204, headers=self.headers())
        try:
            message = str(resp.json().get("error", resp.text))
        except ValueError:
            message = resp.text
        if "partial write" in message:
            if "beyond retention policy" in message:
                message = await self._retention_message(request, body, message)
            return self.error(
                422, "unprocessable entity", f"failure writing points to database: {message}"
            )
        if resp.status_code == 404:
            return self.error(404, "not found", message)
        return self.error(resp.status_code, "invalid", message)

    async def _retention_message(self, request: Request, body: bytes, message: str) -> str:
        """2.7.12's text for points older than the bucket keeps (points_writer.go)."""
        dropped = int(re.search(r"dropped=(\d+)", message).group(1))  # type: ignore[union-attr]
        db, rp = request.query_params.get("db", ""), request.query_params.get("rp", "")
        duration_s = (await self.backend.retention_policies(db)).get(rp, 0)
        scale = {"n": 1, "u": 1_000, "ms": 1_000_000, "s": 1_000_000_000}.get(
            request.query_params.get("precision", "n"), 1
        )
        bound_ns = time.time_ns() - duration_s * 1_000_000_000
        old = sorted(
            (int(line.rsplit(" ", 1)[1]) * scale, line.split(" ", 1)[0])
            for line in body.decode().splitlines()
            if line.strip()
            and line.count(" ") >= 2
            and int(line.rsplit(" ", 1)[1]) * scale < bound_ns
        )

        def point(p: tuple[int, str]) -> str:
            return (
                f"point {p[1]} at {_rfc3339(p[0])} dropped because it violates a "
                f"Retention Policy Lower Bound at {_rfc3339(bound_ns)}"
            )

        summary = (
            f"dropped {dropped} points outside retention policy of duration "
            f"{go_duration(duration_s)} - oldest {point(old[0]) if old else ''}, "
            f"newest {point(old[-1]) if old else ''}"
        )
        return f"partial write: {summary} dropped={dropped}"

    def unauthorized(self) -> Response:
        return self.error(401, "unauthorized", "unauthorized access")

    def error(self, status: int, code: str, message: str) -> Response:
        """kit/transport/http/error_handler.go: `{"code", "message"}` and the code header."""
        return json_response(
            {"code": code, "message": message},
            status,
            {**self.headers(), "X-Platform-Error-Code": code},
        )

    async def other(self, request: Request, body: bytes) -> Response:
        path = request.url.path
        if path == "/api/v2/dbrps" and request.method == "POST":
            return await self._create_dbrp(json.loads(body))
        if path == "/api/v2/buckets" and request.method == "GET":
            return await self._buckets(request.query_params.get("name", ""))
        if path == "/api/v2/buckets" and request.method == "POST":
            return await self._create_bucket(json.loads(body))
        if path == "/api/v2/delete" and request.method == "POST":
            return await self._delete(request, json.loads(body))
        return self.error(404, "not found", "path not found")

    async def _create_dbrp(self, spec: dict[str, Any]) -> Response:
        db, rp = spec["database"], spec["retention_policy"]
        if spec.get("default"):
            self.defaults[db] = rp
        mapping = {
            "id": bucket_id(f"dbrp:{db}/{rp}"),
            "database": db,
            "retention_policy": rp,
            "default": bool(spec.get("default")),
            "orgID": ORG_ID,
            "bucketID": spec.get("bucketID") or bucket_id(f"{db}/{rp}"),
        }
        return json_response({"content": mapping}, 201, self.headers())

    async def _buckets(self, name: str) -> Response:
        db, _, rp = name.partition("/")
        rps = await self.backend.retention_policies(db) if db and rp else {}
        buckets = (
            [{"id": bucket_id(name), "orgID": ORG_ID, "name": name, "type": "user"}]
            if rp in rps
            else []
        )
        return json_response({"buckets": buckets}, 200, self.headers())

    async def _create_bucket(self, spec: dict[str, Any]) -> Response:
        """POST /api/v2/buckets: the bucket `db/rp` as RP `rp` of database `db`."""
        name = str(spec["name"])
        db, _, rp = name.partition("/")
        if not rp:
            return self.error(422, "unprocessable entity", "emulated buckets are named <db>/<rp>")
        seconds = sum(int(r.get("everySeconds", 0)) for r in spec.get("retentionRules") or ())
        duration = f"{seconds}s" if seconds else "INF"
        if rp in await self.backend.retention_policies(db):
            return self.error(422, "conflict", f"bucket with name {name} already exists")
        await self.backend.query(
            [
                f'CREATE DATABASE "{db}"',
                f'CREATE RETENTION POLICY "{rp}" ON "{db}" DURATION {duration} REPLICATION 1',
            ]
        )
        bucket = {"id": bucket_id(name), "orgID": ORG_ID, "name": name, "type": "user"}
        return json_response(bucket, 201, self.headers())

    async def _delete(self, request: Request, spec: dict[str, Any]) -> Response:
        params = request.query_params
        if not (params.get("orgID") or params.get("org")):
            return self.error(400, "invalid", "Please provide either orgID or org")
        bid = params.get("bucketID")
        name = params.get("bucket", "")
        if bid is not None:
            name = next((n for n in await self._bucket_names() if bucket_id(n) == bid), "")
        db, _, rp = name.partition("/")
        if not name or rp not in await self.backend.retention_policies(db):
            return self.error(404, "not found", f'bucket "{bid or name}" not found')
        try:
            conds = _predicate(spec.get("predicate", ""))
        except ValueError as exc:
            return self.error(400, "invalid", str(exc))
        conds += [f"time >= '{spec['start']}'", f"time < '{spec['stop']}'"]
        (result,) = await self.backend.query([f"DELETE WHERE {' AND '.join(conds)}"], db=db)
        if result.get("error"):
            return self.error(500, "internal error", result["error"])
        return Response(status_code=204, headers=self.headers())

    async def _bucket_names(self) -> list[str]:
        (res,) = await self.backend.query(["SHOW DATABASES"])
        names = []
        for s in res.get("series") or ():
            for (db,) in s["values"]:
                names += [f"{db}/{rp}" for rp in await self.backend.retention_policies(db)]
        return names


def _predicate(text: str) -> list[str]:
    """InfluxQL conditions of a delete predicate (`key = "value"` joined by AND)."""
    conds = []
    (toks,) = tokens(text) if text.strip() else [[]]
    i = 0
    while i < len(toks):
        key, op, value = toks[i : i + 3]
        if key.kind not in (IDENT, WORD) or op.text not in ("=", "!=") or value.kind != IDENT:
            raise ValueError(f"bad tag value: {value.text!r}, at position {i}")
        k = key.text.replace("\\", "\\\\").replace('"', '\\"')
        v = value.text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
        conds.append(f"\"{k}\" {op.text} '{v}'")
        i += 3
        if i < len(toks):
            if toks[i].text.upper() != "AND":
                raise ValueError("the logical operator OR is not supported yet")
            i += 1
    return conds


def _rfc3339(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return stamp + (f".{frac:09d}".rstrip("0") if frac else "") + "Z"
