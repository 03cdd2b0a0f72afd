"""A per-process cache of one expensive store read, refreshed in the background.

The store stays the truth: the cached value is the store's own answer, at most
`fresh_s` old when it is served without a refresh in flight and never older than
`max_age_s`. Several workers or replicas each keep their own copy; nothing is shared
and nothing is maintained from the ingest path, so a worker that sees no ingest still
serves values no older than the bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Snapshot(Generic[T]):
    """Stale-while-revalidate cache of one value (epoch seconds of the read kept with it)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._value: T | None = None
        self._read_at = 0.0  # time.monotonic() when the value was read
        self._read_epoch = 0.0
        self._refreshing = False

    def get(self, load: Callable[[], T], fresh_s: float, max_age_s: float) -> tuple[T, float]:
        """(value, epoch seconds when it was read from the store).

        Younger than `fresh_s`: served as is. Between `fresh_s` and `max_age_s`: served,
        and one background refresh starts. Older, absent, or `fresh_s` <= 0: read now.
        """
        if fresh_s > 0:
            now = time.monotonic()
            with self._lock:
                value, age = self._value, now - self._read_at
                if value is not None and age < max(fresh_s, max_age_s):
                    if age >= fresh_s and not self._refreshing:
                        self._refreshing = True
                        threading.Thread(
                            target=self._refresh, args=(load,), name=f"{self._name}-refresh",
                            daemon=True,
                        ).start()  # fmt: skip
                    return value, self._read_epoch
        return self._store(load)

    def _store(self, load: Callable[[], T]) -> tuple[T, float]:
        started, epoch = time.monotonic(), time.time()
        value = load()
        with self._lock:
            if started >= self._read_at:  # a slower, older read never replaces a newer one
                self._value, self._read_at, self._read_epoch = value, started, epoch
        return value, epoch

    def _refresh(self, load: Callable[[], T]) -> None:
        try:
            self._store(load)
        except Exception:  # the next request past max_age reads synchronously and reports
            log.warning("background refresh of %s failed", self._name, exc_info=True)
        finally:
            with self._lock:
                self._refreshing = False
