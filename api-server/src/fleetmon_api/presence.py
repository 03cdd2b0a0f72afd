"""Host last-seen and agent version, kept in memory and flushed to the database periodically."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import String, Table, bindparam, func, update
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_db.models import Host

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Seen:
    """The newest contact with one host not yet written to the database."""

    last_seen: datetime
    agent_version: str | None


_hosts = cast(Table, Host.__table__)
_SEEN = (
    update(_hosts)
    .where(_hosts.c.id == bindparam("hid"))
    .values(
        last_seen=bindparam("seen"),
        # A contact without a version (line protocol) keeps the one known.
        agent_version=func.coalesce(bindparam("version", type_=String), _hosts.c.agent_version),
    )
)
# first_seen is set once: only where it is still empty.
_FIRST_SEEN = (
    update(_hosts)
    .where(_hosts.c.id == bindparam("hid"), _hosts.c.first_seen.is_(None))
    .values(first_seen=bindparam("seen"))
)


class Presence:
    """Collects contacts per host; `flush` writes them in one transaction (not one per request)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[int, Seen] = {}
        self._known: dict[int, Seen] = {}

    def touch(self, host_id: int, agent_version: str | None = None) -> None:
        """Record that a host just sent data."""
        now = self._clock()
        with self._lock:
            prev = self._pending.get(host_id) or self._known.get(host_id)
            version = agent_version or (prev.agent_version if prev else None)
            seen = Seen(now, version)
            self._pending[host_id] = seen
            self._known[host_id] = seen

    def get(self, host_id: int) -> Seen | None:
        """The freshest contact this process knows of (flushed or not)."""
        with self._lock:
            return self._known.get(host_id)

    def forget(self, host_id: int) -> None:
        """Drop a deleted host."""
        with self._lock:
            self._pending.pop(host_id, None)
            self._known.pop(host_id, None)

    def flush(self) -> int:
        """Write pending contacts; return how many hosts were updated."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        rows = [
            {"hid": host_id, "seen": seen.last_seen, "version": seen.agent_version}
            for host_id, seen in sorted(pending.items())
        ]
        try:
            # Two statements for every host at once (executemany: pipelined by the driver),
            # not two round trips per host: a fleet of thousands flushes in one exchange.
            with self._sessions.begin() as db:
                db.execute(_SEEN, rows)
                db.execute(_FIRST_SEEN, rows)
        except Exception:
            log.exception("presence flush failed; will retry")
            with self._lock:
                for host_id, seen in pending.items():
                    self._pending.setdefault(host_id, seen)
            return 0
        return len(pending)
