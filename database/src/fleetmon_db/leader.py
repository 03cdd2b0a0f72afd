"""Leader election among the processes that share one metadata database: exactly one alert
worker evaluates and notifies; exactly one API worker runs the rollup and retention job.
A PostgreSQL advisory lock on a dedicated connection, or an fcntl file lock beside the SQLite
database. Both vanish with the process that holds them, so a survivor takes over at its next
attempt. Each role (`name`) has its own lock."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from fleetmon_db.db import make_engine


def lock_key(name: str) -> int:
    """A stable 63-bit advisory-lock key for a role, unlikely to collide with other apps'."""
    digest = hashlib.sha256(f"fleetmon-{name}-leader".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


# The alert worker's lock.
LOCK_KEY = lock_key("alerts")


class LeaderLock(Protocol):
    """A lock only one process holds at a time."""

    def try_acquire(self) -> bool:
        """Take the lock if free; True if we hold it now."""
        ...

    def held(self) -> bool:
        """True if we still hold the lock (e.g. our database session is alive)."""
        ...

    def release(self) -> None:
        """Give the lock up."""
        ...


class FileLock:
    """fcntl.flock on a file: released by the kernel when the holder dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if free."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def held(self) -> bool:
        """A file lock cannot be lost while the process lives."""
        return self._fd is not None

    def release(self) -> None:
        """Unlock and close."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class PgAdvisoryLock:
    """pg_try_advisory_lock held by one dedicated session (not a pooled connection)."""

    def __init__(self, url: str, key: int = LOCK_KEY) -> None:
        self.engine: Engine = make_engine(url, poolclass=NullPool)
        self.key = key
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        """Take the lock if free."""
        if self._conn is not None:
            return self.held()
        try:
            conn = self.engine.connect()
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
            )
            conn.commit()
        except SQLAlchemyError:
            return False
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        """Check the session is alive (a lost session means a lost lock)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except SQLAlchemyError:
            self._drop()
            return False

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                conn.close()

    def release(self) -> None:
        """Unlock and close the session."""
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                self._conn.commit()
            except SQLAlchemyError:
                pass
        self._drop()
        self.engine.dispose()


def lock_for(database_url: str, name: str = "alerts") -> LeaderLock:
    """The lock of role `name` for the metadata database the processes share."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return PgAdvisoryLock(database_url, lock_key(name))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return FileLock(Path(f"{url.database}.{name}.lock"))
    raise ValueError(f"no leader lock for database backend {url.get_backend_name()!r}")
