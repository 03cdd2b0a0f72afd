"""Leader election for the alert worker: the shared implementation lives in fleetmon_db.leader
(the API's background jobs elect their leader the same way)."""

from __future__ import annotations

from fleetmon_db.leader import LOCK_KEY, FileLock, LeaderLock, PgAdvisoryLock, lock_for

__all__ = ["LOCK_KEY", "FileLock", "LeaderLock", "PgAdvisoryLock", "lock_for"]
