"""Open the configured time-series store from one URL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from fleetmon_db.timeseries.contract import TimeSeriesStore
from fleetmon_db.timeseries.tiers import DEFAULT_TIERS, Tier


def open_store(url: str, tiers: Sequence[Tier] = DEFAULT_TIERS, **opts: Any) -> TimeSeriesStore:
    """`http(s)://[user:pass@]host:port/<database>[?token=...]` -> InfluxDB; else SQLAlchemy URL.

    The InfluxDB token may also come as the `influx_token` option (kept out of URLs and logs).
    Other options go to the store's constructor (e.g. `clock`, `timeout`, `table_prefix`).
    """
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        from fleetmon_db.timeseries.influx import InfluxStore

        database = unquote(parts.path.strip("/"))
        query = parse_qs(parts.query)
        token = opts.pop("influx_token", None) or next(iter(query.get("token", [])), None)
        database = (query.get("db") or [database])[0]
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
        base = urlunsplit((parts.scheme, netloc, "", "", ""))
        return InfluxStore(
            base,
            database,
            tiers=tiers,
            token=token,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            **opts,
        )
    from fleetmon_db.timeseries.sql import SqlStore

    opts.pop("influx_token", None)
    return SqlStore(url, tiers=tiers, **opts)
