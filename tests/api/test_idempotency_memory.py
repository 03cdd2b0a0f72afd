"""The in-process ledger of batch ids: 24 h, bounded, and small enough that a busy server's
RSS stops growing once the bound is reached."""

from __future__ import annotations

import tracemalloc
import uuid

from fleetmon_api.idempotency import MemoryLedger
from tests.support.clock import FakeClock

DAY = 86_400.0


def ledger(clock: FakeClock, max_entries: int = 1000) -> MemoryLedger:
    return MemoryLedger(DAY, max_entries, clock=clock.seconds)


def test_a_recorded_batch_is_seen_for_the_ttl_then_forgotten() -> None:
    clock = FakeClock()
    led = ledger(clock)
    led.record_now("1:a")
    assert led.seen_now("1:a")
    assert not led.seen_now("2:a")  # per host
    clock.advance(DAY - 1)
    led.record_now("1:b")  # later ids keep their own time
    assert led.seen_now("1:a")
    clock.advance(DAY / 24 + 2)  # past the TTL by more than one generation
    assert not led.seen_now("1:a")
    assert led.seen_now("1:b")
    clock.advance(DAY)
    assert not led.seen_now("1:b")
    assert len(led) == 0


def test_the_bound_drops_the_oldest_ids_first() -> None:
    clock = FakeClock()
    led = ledger(clock, max_entries=800)
    for i in range(2000):
        led.record_now(f"7:{i}")
        clock.advance(0.01)
    assert len(led) <= 800
    assert led.seen_now("7:1999")
    assert led.seen_now("7:1300")  # the newest 700 at least are all there
    assert not led.seen_now("7:0")


def test_a_full_ledger_costs_under_85_bytes_an_id() -> None:
    clock = FakeClock()
    n = 100_000
    keys = [f"{i % 2000}:{uuid.uuid4()}" for i in range(n)]
    tracemalloc.start()
    try:
        led = ledger(clock, max_entries=n)
        before = tracemalloc.get_traced_memory()[0]
        for k in keys:
            led.record_now(k)
        cost = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(led) == n
    assert cost / n < 85, f"{cost / n:.0f} bytes an id"


def test_clear_forgets_every_id() -> None:
    led = ledger(FakeClock())
    led.record_now("1:a")
    led.clear()
    assert not led.seen_now("1:a")
    assert len(led) == 0
