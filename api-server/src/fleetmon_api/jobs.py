"""Background jobs of the API process: presence flush and the rollup + retention run."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fleetmon_api.state import AppState

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _host_lock(name: str) -> Iterator[bool]:
    """A non-blocking per-machine lock, so N workers of one server do not all roll up at once."""
    path = Path(tempfile.gettempdir()) / f"fleetmon-{name}.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def rollup_once(state: AppState) -> bool:
    """Roll up closed windows and enforce retention; False if another worker holds the lock."""
    lock_name = "rollup-" + hashlib.sha256(state.settings.store_url.encode()).hexdigest()[:16]
    with _host_lock(lock_name) as mine:
        if not mine:
            return False
        now_ns = state.now_ns()
        try:
            report = state.store.rollup(now_ns)
            state.store.enforce_retention(now_ns)
        except Exception:
            state.telemetry.rollup_runs.labels("error").inc()
            raise
        state.telemetry.rollup_runs.labels("ok").inc()
        log.debug("rollup wrote %s", dict(report.windows))
        return True
