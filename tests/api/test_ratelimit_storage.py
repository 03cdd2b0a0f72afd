"""The in-process rate-limit storage: fixed windows that expire lazily, no timer threads."""

from __future__ import annotations

import threading

from limits import parse
from limits.strategies import FixedWindowRateLimiter

from fleetmon_api.ratelimit import LocalStorage, RateLimiter
from tests.support.clock import NS, FakeClock


def test_windows_count_expire_and_restart() -> None:
    storage, clock = LocalStorage(), FakeClock(1_000 * NS)
    storage._clock = clock.seconds
    limiter = FixedWindowRateLimiter(storage)
    item = parse("2/minute")
    assert limiter.hit(item, "k")
    assert limiter.hit(item, "k")
    assert not limiter.hit(item, "k")
    assert limiter.hit(item, "other")  # its own counter
    assert limiter.get_window_stats(item, "k").reset_time == 1_060.0
    clock.advance(60)  # the window ended: counted afresh
    assert limiter.hit(item, "k")
    assert storage.get(item.key_for("k")) == 1


def test_sweep_drops_expired_counters_and_hits_start_no_threads() -> None:
    storage, clock = LocalStorage(), FakeClock(1_000 * NS)
    storage._clock = clock.seconds
    storage.SWEEP_EVERY = 10
    threads = threading.active_count()
    for i in range(9):
        storage.incr(f"k{i}", 5)
    clock.advance(10)
    storage.incr("fresh", 5)  # the 10th hit sweeps the 9 expired counters
    assert list(storage._counts) == ["fresh"]
    assert threading.active_count() == threads


def test_memory_url_uses_the_local_storage() -> None:
    limiter = RateLimiter("memory://", "test", {"ingest": "1/minute"})
    assert limiter.local
    assert isinstance(limiter.limiter.limiter.storage, LocalStorage)
