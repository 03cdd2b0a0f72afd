"""Deleting a host's points, the way each InfluxDB version allows it."""

from __future__ import annotations

from collections.abc import Sequence

from fleetmon_db.timeseries.influx.client import InfluxClient
from fleetmon_db.timeseries.influx.influxql import ident, literal
from fleetmon_db.timeseries.influx.names import encode_name
from fleetmon_db.timeseries.model import StoreError
from fleetmon_db.timeseries.tiers import Tier

# /api/v2/delete needs a closed range; this one holds every timestamp InfluxDB can store.
_ALL_TIME = ("1677-09-21T00:12:44Z", "2262-04-11T23:47:16Z")


def drop_series(client: InfluxClient, host: str) -> None:
    """1.x: DROP SERIES spans every retention policy of the database."""
    client.query([f"DROP SERIES WHERE {ident('host')} = {literal(encode_name(host))}"])


def delete_from_buckets(client: InfluxClient, tiers: Sequence[Tier], host: str) -> None:
    """2.x: `/api/v2/delete` in every bucket `<db>/<tier>` (the v1 API cannot delete).

    The predicate's value is a double-quoted identifier (influxdb predicate/parser.go
    scans it with the InfluxQL scanner), escaped like every identifier.
    """
    predicate = f"{ident('host')} = {ident(encode_name(host))}"
    for tier in tiers:
        name = f"{client.database}/{tier.name}"
        found = client.api("GET", "/api/v2/buckets", params={"name": name}).json()
        buckets = found.get("buckets") or []
        if not buckets:
            raise StoreError(f"InfluxDB bucket {name} not found: cannot delete host {host!r}")
        bucket = buckets[0]
        client.api(
            "POST",
            "/api/v2/delete",
            params={"orgID": str(bucket["orgID"]), "bucketID": str(bucket["id"])},
            json_body={"start": _ALL_TIME[0], "stop": _ALL_TIME[1], "predicate": predicate},
        )
