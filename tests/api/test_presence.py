"""Host presence: contacts kept in memory and flushed for every host in one exchange."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_api.presence import Presence
from fleetmon_db import migrate
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.models import Host
from tests.conftest import server_missing
from tests.support.clock import FakeClock
from tests.support.servers import ServerMissing, throwaway_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'meta.db'}"
        else:
            try:
                url = stack.enter_context(throwaway_pg_database("fleetmon_presence"))
            except ServerMissing as exc:
                server_missing(exc)
        migrate.upgrade(url)
        engine = make_engine(url)
        yield make_sessionmaker(engine)
        engine.dispose()


def test_flush_writes_every_host_once_and_keeps_first_seen_and_versions(
    sessions: sessionmaker[Session],
) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    with sessions.begin() as db:
        db.add_all(Host(name=f"h{i:04d}", labels={}) for i in range(1500))
    with sessions() as db:
        ids = list(db.scalars(select(Host.id).order_by(Host.name)))
    presence = Presence(sessions, clock.now)
    first = clock.now()
    for host_id in ids:
        presence.touch(host_id, "1.0.0")
    assert presence.flush() == 1500
    clock.advance(10)
    for host_id in ids[:10]:
        presence.touch(host_id, None)  # line protocol: no version, the known one stays
    presence.touch(ids[10], "1.1.0")
    assert presence.flush() == 11
    with sessions() as db:
        hosts = {h.id: h for h in db.scalars(select(Host))}
    assert all(h.first_seen is not None for h in hosts.values())
    assert {h.first_seen.replace(tzinfo=UTC) for h in hosts.values()} == {first}  # type: ignore[union-attr]
    assert hosts[ids[0]].last_seen.replace(tzinfo=UTC) == clock.now()  # type: ignore[union-attr]
    assert hosts[ids[0]].agent_version == "1.0.0"
    assert hosts[ids[10]].agent_version == "1.1.0"
    assert hosts[ids[11]].last_seen.replace(tzinfo=UTC) == first  # type: ignore[union-attr]
