"""Open the configured time-series store; create its schema now or as soon as it answers."""

from __future__ import annotations

import logging
import threading

from fleetmon_db.timeseries import (
    StoreUnavailable,
    TimeSeriesStore,
    UnsupportedServer,
    open_store,
)

log = logging.getLogger(__name__)


def open_configured_store(url: str) -> TimeSeriesStore:
    """The store for `url` (InfluxDB http(s):// or a SQLAlchemy URL); connects lazily."""
    return open_store(url)


def ensure_schema_soon(store: TimeSeriesStore, stop: threading.Event, retry_s: float) -> bool:
    """Create the schema; if the store is down, keep retrying in a thread (the API still starts,
    answering 503 for store calls until then). True if done synchronously.

    A server version that cannot serve fleetmon (InfluxDB 3.0-3.6) is refused: one log line
    naming the version and what to do, then UnsupportedServer (start-up fails).
    """
    try:
        store.ensure_schema()
        return True
    except UnsupportedServer as exc:
        log.error("%s", exc)
        raise
    except StoreUnavailable as exc:
        log.warning("store unavailable at start-up (%s); retrying every %ss", exc, retry_s)

    def retry() -> None:
        while not stop.wait(retry_s):
            try:
                store.ensure_schema()
            except UnsupportedServer as exc:
                log.error("%s", exc)  # /health reports it too; retrying cannot help
                return
            except StoreUnavailable:
                continue
            log.info("store reachable; schema ensured")
            return

    threading.Thread(target=retry, name="fleetmon-ensure-schema", daemon=True).start()
    return False
