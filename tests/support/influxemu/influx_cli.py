"""The three `influx` CLI commands deploy/influxdb-init uses, against an emulated 2.7.

`influx` is in the InfluxDB image, not here; this speaks the same HTTP API calls the real
CLI makes (influxdata/influx-cli: `bucket create` POST /api/v2/buckets, `bucket list`
GET /api/v2/buckets, `v1 dbrp create` POST /api/v2/dbrps), so the init script runs as it
is against the emulator. `INFLUX_HOST` names the server, as for the real CLI.
Usage: python -m tests.support.influxemu.influx_cli <the influx arguments>
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

_HOURS = re.compile(r"^(\d+)h$")


def call(method: str, url: str, token: str, body: Any = None) -> tuple[int, Any]:
    """(status, decoded JSON answer) of one API call (urllib: this starts fast)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"INFLUX_HOST must be an http(s) URL: {url!r}")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - checked above
    req.add_header("Authorization", f"Token {token}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - checked above
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def main(argv: list[str]) -> int:
    """Run one command; print what the real CLI prints that the script reads."""
    host = os.environ["INFLUX_HOST"]
    p = argparse.ArgumentParser(prog="influx")
    p.add_argument("words", nargs="+")
    p.add_argument("--org")
    p.add_argument("--token")
    p.add_argument("--name")
    p.add_argument("--retention")
    p.add_argument("--hide-headers", action="store_true")
    p.add_argument("--db")
    p.add_argument("--rp")
    p.add_argument("--bucket-id")
    p.add_argument("--default", action="store_true")
    a = p.parse_args(argv)
    token = a.token or ""
    if a.words == ["bucket", "create"]:
        m = _HOURS.match(a.retention or "")
        if m is None:
            print(f"Error: unsupported retention {a.retention!r}", file=sys.stderr)
            return 1
        rules = [{"type": "expire", "everySeconds": int(m.group(1)) * 3600}]
        status, answer = call(
            "POST",
            f"{host}/api/v2/buckets",
            token,
            {"name": a.name, "orgID": a.org, "retentionRules": rules},
        )
    elif a.words == ["bucket", "list"]:
        query = urllib.parse.urlencode({"name": a.name})
        status, answer = call("GET", f"{host}/api/v2/buckets?{query}", token)
        if status < 300:
            for b in answer["buckets"]:
                print(f"{b['id']}\t{b['name']}\t\t\t{b['orgID']}\timplicit")
    elif a.words == ["v1", "dbrp", "create"]:
        spec = {
            "bucketID": a.bucket_id,
            "database": a.db,
            "retention_policy": a.rp,
            "default": a.default,
            "org": a.org,
        }
        status, answer = call("POST", f"{host}/api/v2/dbrps", token, spec)
    else:
        print(f"Error: not emulated: influx {' '.join(a.words)}", file=sys.stderr)
        return 1
    if status >= 300:
        print(f"Error: {answer}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
