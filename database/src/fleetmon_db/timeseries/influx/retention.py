"""Retention on InfluxDB: one retention policy per tier, and expiry that follows our clock."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fleetmon_db.timeseries.influx.client import InfluxClient
from fleetmon_db.timeseries.influx.influxql import ident, integer
from fleetmon_db.timeseries.influx.results import rfc3339_ns, rows
from fleetmon_db.timeseries.model import NS, StoreError, StoreUnavailable
from fleetmon_db.timeseries.tiers import Tier

log = logging.getLogger(__name__)


def create_retention_policies(client: InfluxClient, tiers: Sequence[Tier]) -> None:
    """Create the database and one retention policy per tier (1.x); 2.x/3.x map buckets."""
    db = client.database
    try:
        client.query([f"CREATE DATABASE {ident(db)}"])
    except StoreUnavailable:
        raise
    except StoreError as exc:
        log.warning(
            "cannot create database %s (on InfluxDB 2.x/3.x create the buckets "
            "<db>/<tier> instead): %s",
            db,
            exc,
        )
    for tier in tiers:
        spec = f"ON {ident(db)} DURATION {integer(tier.retention_s)}s REPLICATION 1"
        if tier.is_raw:
            spec += " DEFAULT"
        try:
            client.query([f"CREATE RETENTION POLICY {ident(tier.name)} {spec}"])
        except StoreUnavailable:
            raise
        except StoreError as exc:
            if "already exists" in str(exc):
                try:
                    client.query([f"ALTER RETENTION POLICY {ident(tier.name)} {spec}"])
                    continue
                except StoreUnavailable:
                    raise
                except StoreError as exc2:
                    exc = exc2
            log.warning(
                "cannot create retention policy %s on %s (InfluxDB 2.x/3.x: the bucket "
                "%s/%s must exist with its retention): %s",
                tier.name,
                db,
                db,
                tier.name,
                exc,
            )


def configure_databases(client: InfluxClient, tiers: Sequence[Tier]) -> None:
    """InfluxDB 3.x: database `<db>/<tier>` per tier with the tier's retention.

    3.x creates a database on its first write without retention; the store sets it through
    `/api/v3/configure/database` (create, or update when it exists: 409).
    """
    for tier in tiers:
        body = {"db": f"{client.database}/{tier.name}", "retention_period": f"{tier.retention_s}s"}
        resp = client.api("POST", "/api/v3/configure/database", json_body=body, accept=(409,))
        if resp.status_code == 409:
            client.api("PUT", "/api/v3/configure/database", json_body=body)


def check_buckets(client: InfluxClient, tiers: Sequence[Tier]) -> list[str]:
    """InfluxDB 2.x: the buckets `<db>/<tier>` that are missing (the deployment makes them)."""
    missing = []
    for tier in tiers:
        name = f"{client.database}/{tier.name}"
        resp = client.api("GET", "/api/v2/buckets", params={"name": name}, accept=(404,))
        if resp.status_code == 404 or not (resp.json().get("buckets") or []):
            missing.append(name)
    return missing


def drop_expired_shards(client: InfluxClient, tiers: Sequence[Tier], now_ns: int) -> None:
    """Drop shards that ended before each tier's retention (1.x); else the server does it.

    The server's own retention service is authoritative; this makes expiry follow the
    caller's clock and happens at shard granularity.
    """
    try:
        (result,) = client.query(["SHOW SHARDS"])
    except StoreUnavailable:
        raise
    except StoreError as exc:
        log.info("SHOW SHARDS unsupported; the server enforces bucket retention: %s", exc)
        return
    by_name = {t.name: t for t in tiers}
    drops = []
    for _, _, cols, values in rows(result):
        for row in values:
            rec = dict(zip(cols, row, strict=False))
            tier = by_name.get(str(rec.get("retention_policy")))
            if rec.get("database") != client.database or tier is None:
                continue
            if rfc3339_ns(str(rec["end_time"])) <= now_ns - tier.retention_s * NS:
                drops.append(f"DROP SHARD {integer(int(rec['id']))}")
    if drops:
        client.query(drops)
