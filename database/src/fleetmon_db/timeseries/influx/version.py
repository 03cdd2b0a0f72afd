"""Which InfluxDB answers, and what the store may ask of it: the capability probe.

`/ping` names the server (`X-Influxdb-Version`, `X-Influxdb-Build`) on 1.x, 2.x and 3.x.
From the version follow the few things the store does differently (docs/storage.md has
the table and where each fact comes from):

- 1.x: the store creates the database and one retention policy per tier, drops expired
  shards on its own clock, deletes a host with `DROP SERIES`.
- 2.x: buckets `<db>/<tier>` and the default DBRP mapping come from the deployment; the
  v1 API does not implement CREATE/ALTER RETENTION POLICY, SHOW SHARDS, DROP SHARD or
  DROP SERIES, so a host is deleted through `/api/v2/delete`, bucket by bucket.
- 3.7+: each tier is a database `<db>/<tier>` whose retention the store sets through
  `/api/v3/configure/database`; nothing can be deleted by predicate.
- 3.0-3.6 cannot serve the store (one statement per /query, and a database in the
  statement must equal the `db` parameter): refused with one line that says so.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from fleetmon_db.timeseries.model import UnsupportedServer

Delete = Literal["drop-series", "api-v2-delete", "none"]

__all__ = ["InfluxFeatures", "UnsupportedServer", "features"]


@dataclass(frozen=True, slots=True)
class InfluxFeatures:
    """The server's identity and what the store relies on it for."""

    version: str  # as the server reports it, e.g. "1.6.7~rc0", "v2.7.12", "3.7.0"
    build: str  # "OSS", "Core", "Enterprise", "" when not reported
    major: int
    minor: int
    # CREATE DATABASE / CREATE and ALTER RETENTION POLICY through InfluxQL (1.x).
    manages_retention_policies: bool
    # SHOW SHARDS / DROP SHARD: expiry can follow the store's clock (1.x).
    drops_shards: bool
    # Tier retention set through /api/v3/configure/database (3.x).
    configures_databases: bool
    # How a host's points are deleted: DROP SERIES (1.x), /api/v2/delete per bucket (2.x),
    # not at all (3.x).
    delete: Delete

    @property
    def family(self) -> str:
        """ "1.x", "2.x" or "3.x"."""
        return f"{self.major}.x"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for logs and /health."""
        return {**asdict(self), "family": self.family}


_VERSION = re.compile(r"v?(\d+)\.(\d+)")


def features(version: str, build: str) -> InfluxFeatures:
    """The capability set of a server that reports `version` and `build` on /ping.

    Raises UnsupportedServer for versions that cannot serve the store (3.0-3.6, unknown).
    """
    m = _VERSION.match(version.strip())
    if m is None:
        raise UnsupportedServer(
            f"InfluxDB at this URL reports version {version!r}, which fleetmon cannot read; "
            "use InfluxDB 1.8+, 2.7 or 3.7+"
        )
    major, minor = int(m.group(1)), int(m.group(2))
    name = f"InfluxDB {version.strip()}" + (f" ({build})" if build else "")
    if major == 3 and minor < 7:
        raise UnsupportedServer(
            f"{name} cannot serve fleetmon: 3.0-3.6 answer one InfluxQL statement per "
            "/query and refuse the database/retention-policy names fleetmon's queries "
            "carry; upgrade InfluxDB to 3.7 or later"
        )
    if major not in (1, 2, 3):
        raise UnsupportedServer(f"{name} is not supported; use InfluxDB 1.8+, 2.7 or 3.7+")
    return InfluxFeatures(
        version=version.strip(),
        build=build,
        major=major,
        minor=minor,
        manages_retention_policies=major == 1,
        drops_shards=major == 1,
        configures_databases=major == 3,
        delete={1: "drop-series", 2: "api-v2-delete"}.get(major, "none"),  # type: ignore[arg-type]
    )
