"""The alert worker's notification-preview step in a thread, for API tests.

Each pass of `fleetmon-alerts run` answers the previews the API recorded; this runs that step
alone (tests/e2e/test_web_alerting.py goes through the real worker process)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fleetmon_alerts.clock import SystemClock
from fleetmon_alerts.previews import PreviewResponder
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.timeseries import open_store


@contextmanager
def preview_responder(
    database_url: str, store_url: str, public_url: str = "https://fleet.example.test"
) -> Iterator[None]:
    """Answer pending notification previews every 50 ms until the block ends."""
    engine = make_engine(database_url)
    store = open_store(store_url)
    responder = PreviewResponder(make_sessionmaker(engine), store, SystemClock(), public_url)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            responder.answer_pending()
            stop.wait(0.05)

    thread = threading.Thread(target=loop, name="preview-responder", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        store.close()
        engine.dispose()
