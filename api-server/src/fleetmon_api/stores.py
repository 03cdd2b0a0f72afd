"""Open the configured time-series store (kept separate so tests can inject a store)."""

from __future__ import annotations

from fleetmon_db.timeseries import TimeSeriesStore, open_store


def open_configured_store(url: str) -> TimeSeriesStore:
    """The store for `url` (InfluxDB http(s):// or a SQLAlchemy URL), schema ensured."""
    store = open_store(url)
    store.ensure_schema()
    return store
