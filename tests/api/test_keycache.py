"""The host key cache: entries stay while sweeps confirm them, and a revocation made anywhere
(another worker, the CLI) reaches this worker at its next sweep."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_api import services
from fleetmon_api.keycache import HostIdentity, KeyCache, KeyRevalidator
from fleetmon_api.security import hash_secret
from fleetmon_db import migrate
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.models import Host
from tests.support.clock import FakeClock

TTL = 10.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def enroll(sessions: sessionmaker[Session], clock: FakeClock, name: str) -> tuple[str, int, int]:
    """(key, host id, key id) of a newly enrolled host."""
    with sessions() as db:
        tok = services.create_enroll_token(db, clock.now())
        got = services.enroll(db, clock.now(), tok.token, name, {})
        host = db.get(Host, got.host_id)
        assert host is not None
        key_id = host.keys[0].id
    return got.api_key, got.host_id, key_id


def test_an_entry_expires_after_the_ttl_without_sweeps(clock: FakeClock) -> None:
    cache = KeyCache(TTL, clock=clock.seconds)
    ident = HostIdentity(1, "a", 11)
    cache.put("h", ident)
    clock.advance(TTL)
    assert cache.get("h") == ident
    clock.advance(0.5)
    assert cache.get("h") is None


def test_sweeps_keep_valid_entries_past_the_ttl_and_evict_the_rest(clock: FakeClock) -> None:
    cache = KeyCache(TTL, clock=clock.seconds)
    a, b = HostIdentity(1, "a", 11), HostIdentity(2, "b", 22)
    cache.put("ha", a)
    cache.put("hb", b)
    for _ in range(10):  # a minute of sweeps every 6 s: key 11 stays valid, 22 is revoked
        clock.advance(6)
        cache.sweep({11, 22}, {11}, clock.seconds())
    assert cache.get("ha") == a
    assert cache.get("hb") is None
    # A key cached while a sweep was reading is not evicted by that sweep.
    read_at = clock.seconds()
    c = HostIdentity(3, "c", 33)
    cache.put("hc", c)
    cache.sweep({11}, {11}, read_at)
    assert cache.get("hc") == c


def test_a_key_past_its_own_expiry_is_not_served(clock: FakeClock) -> None:
    cache = KeyCache(TTL, clock=clock.seconds)
    cache.put("h", HostIdentity(1, "a", 11), valid_for_s=3)
    cache.sweep({11}, {11}, clock.seconds())
    clock.advance(3)
    assert cache.get("h") is None


def test_a_revocation_in_the_database_reaches_the_cache_at_the_next_sweep(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    cache = KeyCache(TTL, clock=clock.seconds)
    sweeper = KeyRevalidator(cache, sessions, clock.now, clock.seconds)
    keys = {}
    for name in ("kept", "revoked", "deleted"):
        key, host_id, key_id = enroll(sessions, clock, name)
        keys[name] = hash_secret(key)
        cache.put(keys[name], HostIdentity(host_id, name, key_id))
    assert sweeper.sweep() == 0
    # Another worker (or `fleetmon revoke-key`) changes the database; this cache is not told.
    with sessions() as db:
        hosts = {h.name: h for h in db.query(Host)}
        services.revoke_keys(db, hosts["revoked"], clock.now())
        db.delete(hosts["deleted"])
        db.commit()
    assert cache.get(keys["revoked"]) is not None  # until the sweep
    assert sweeper.sweep() == 2
    assert cache.get(keys["revoked"]) is None
    assert cache.get(keys["deleted"]) is None
    clock.advance(TTL * 3)
    sweeper.sweep()
    assert cache.get(keys["kept"]) is not None


def test_a_sweep_loads_every_valid_key_so_a_restarted_api_needs_no_lookups(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    keys = {name: enroll(sessions, clock, name) for name in ("a", "b", "revoked", "expired")}
    with sessions() as db:
        hosts = {h.name: h for h in db.query(Host)}
        services.revoke_keys(db, hosts["revoked"], clock.now())
        hosts["expired"].keys[0].expires_at = clock.now()
        db.commit()
    cache = KeyCache(TTL, clock=clock.seconds)
    sweeper = KeyRevalidator(cache, sessions, clock.now, clock.seconds)
    sweeper.sweep()
    for name in ("a", "b"):
        key, host_id, key_id = keys[name]
        assert cache.get(hash_secret(key)) == HostIdentity(host_id, name, key_id)
    for name in ("revoked", "expired"):
        assert cache.get(hash_secret(keys[name][0])) is None
    assert len(cache) == 2
    # A host enrolled later is loaded by the next sweep; loaded entries then live on sweeps.
    c = enroll(sessions, clock, "c")
    clock.advance(TTL * 2)
    sweeper.sweep()
    assert cache.get(hash_secret(c[0])) == HostIdentity(c[1], "c", c[2])
    assert cache.get(hash_secret(keys["a"][0])) is not None


def test_a_sweep_that_read_before_an_eviction_does_not_bring_the_key_back(
    clock: FakeClock,
) -> None:
    cache = KeyCache(TTL, clock=clock.seconds)
    ident = HostIdentity(1, "a", 11)
    read_at = clock.seconds()
    clock.advance(0.5)
    cache.evict_host(1)  # revoked here while a sweep was reading the database
    assert cache.load([("h", ident, None)], read_at) == 0
    assert cache.get("h") is None
    # A sweep that read after the eviction (the key valid again: a new key) loads it.
    clock.advance(0.5)
    assert cache.load([("h2", HostIdentity(1, "a", 12), None)], clock.seconds()) == 1


def test_loading_stops_short_of_the_cache_size(clock: FakeClock) -> None:
    cache = KeyCache(TTL, max_entries=10, clock=clock.seconds)
    entries = [(f"h{i}", HostIdentity(i, f"n{i}", i), None) for i in range(20)]
    # 90 % of the bound: a key verified on request then still fits without clearing all.
    assert cache.load(entries, clock.seconds()) == 9
    assert cache.room() == 0
    cache.put("new", HostIdentity(99, "new", 99))
    assert len(cache) == 10
    assert cache.get("h0") is not None
