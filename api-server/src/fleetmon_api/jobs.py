"""Background jobs of the API process: the rollup + retention run, once per deployment.

Every API worker (and replica) starts the job's timer, but only the one holding the
"rollups" leader lock (fleetmon_db.leader, keyed on the metadata database they share) runs
it; if that worker dies, another takes over at its next tick.
"""

from __future__ import annotations

import logging
import os
import time

from fleetmon_api.state import AppState
from fleetmon_db.leader import LeaderLock, lock_for

log = logging.getLogger(__name__)

LOCK_NAME = "rollups"
# How often a worker that does not run the rollups reads the tiers' watermarks.
FOLLOWER_LAG_READ_S = 30.0
# A run scheduled for a window's close starts this long after it (clocks, the last writes).
CLOSE_MARGIN_S = 1.0


class _OnlyProcess:
    """The lock of a database no other process can open (in-memory SQLite): always ours."""

    def try_acquire(self) -> bool:
        """Always True."""
        return True

    def held(self) -> bool:
        """Always True."""
        return True

    def release(self) -> None:
        """Nothing to release."""


def _lock(database_url: str) -> LeaderLock:
    try:
        return lock_for(database_url, LOCK_NAME)
    except ValueError:  # no lock for this backend: nothing else can share it either
        return _OnlyProcess()


class RollupJob:
    """Roll up closed windows and enforce retention, in the leading worker only."""

    def __init__(self, state: AppState, lock: LeaderLock | None = None) -> None:
        self.state = state
        self.lock = lock or _lock(state.settings.database_url)
        self.leading = False
        self._lag_read_at = float("-inf")

    def run_once(self) -> bool:
        """One run if this worker leads; False if another worker holds the lock."""
        if not self.lock.try_acquire():
            if self.leading:
                log.warning("lost the rollup leader lock; another worker takes over")
            self.leading = False
            # Other workers' /metrics and /health tell the lag too, read less often than the
            # leader runs (on the SQL stores the read is a transaction of its own).
            if time.monotonic() - self._lag_read_at >= FOLLOWER_LAG_READ_S:
                self.read_lag()
            return False
        if not self.leading:
            log.info("this worker (pid %d) runs the rollup and retention job", os.getpid())
            self.leading = True
        state = self.state
        now_ns = state.now_ns()
        try:
            report = state.store.rollup(now_ns)
            state.store.enforce_retention(now_ns)
        except Exception as exc:
            state.telemetry.rollup_runs.labels("error").inc()
            state.rollup_lag.ran(False, f"{type(exc).__name__}: {str(exc)[:200]}")
            raise
        finally:
            self.read_lag()
        state.telemetry.rollup_runs.labels("ok").inc()
        state.rollup_lag.ran(True)
        log.debug("rollup wrote %s", dict(report.windows))
        return True

    def wait_s(self) -> float:
        """Seconds until the next run: the configured interval, or less when a window of the
        finest tier closes sooner (its lag then stays within one window + the close delay +
        one run, the bound /health reports against)."""
        interval = self.state.settings.rollup_interval_s
        closes = self.state.store.rollups.until_next_close_s(self.state.now_ns())
        return interval if closes is None else min(interval, closes + CLOSE_MARGIN_S)

    def read_lag(self) -> None:
        """Refresh the tiers' watermarks from the store (every worker, leading or not)."""
        self._lag_read_at = time.monotonic()
        try:
            self.state.rollup_lag.update(self.state.store.rollups.watermarks())
        except Exception as exc:  # noqa: BLE001 - the lag stays as last read
            log.warning("reading the rollup watermarks failed: %s", type(exc).__name__)

    def close(self) -> None:
        """Give the lock up, so another worker leads at once."""
        self.lock.release()
