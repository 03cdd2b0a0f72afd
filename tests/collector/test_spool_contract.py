"""One test suite, run against every spool implementation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fleetmon_agent.spool import FileSpool, MemorySpool, Spool
from tests.support.clock import NS, FakeClock

SpoolFactory = Callable[..., Spool]


def pts(tag: str, n: int) -> list[dict[str, Any]]:
    """n distinct points labelled by tag."""
    return [
        {"measurement": "m", "time": float(i), "tags": {"b": tag}, "fields": {"v": i}}
        for i in range(n)
    ]


@pytest.fixture(params=["memory", "file"])
def make_spool(request: pytest.FixtureRequest, tmp_path: Path) -> SpoolFactory:
    """A factory of fresh spools of the parametrised kind."""

    def factory(**kw: Any) -> Spool:
        if request.param == "memory":
            return MemorySpool(**kw)
        return FileSpool(str(tmp_path / "spool"), **kw)

    return factory


def test_empty_spool_gives_nothing(make_spool: SpoolFactory) -> None:
    s = make_spool()
    assert s.take(100) is None
    assert s.stats() == (0, 0, 0)


def test_add_take_ack_round_trip_keeps_the_batch_id(make_spool: SpoolFactory) -> None:
    s = make_spool()
    bid = s.add(pts("a", 3), batch_id="11111111-1111-4111-8111-111111111111")
    batch = s.take(100)
    assert batch is not None
    assert batch.batch_id == bid == "11111111-1111-4111-8111-111111111111"
    assert batch.points == pts("a", 3)
    s.ack(batch)
    assert s.take(100) is None
    assert s.stats()[0] == 0


def test_take_merges_oldest_first_up_to_max_points(make_spool: SpoolFactory) -> None:
    s = make_spool()
    ids = [s.add(pts(t, 4)) for t in "abcd"]
    batch = s.take(10)
    assert batch is not None
    assert batch.points == pts("a", 4) + pts("b", 4)  # 12 would exceed 10
    assert batch.batch_id not in ids  # a merged request is a new batch
    s.ack(batch)
    rest = s.take(100)
    assert rest is not None
    assert rest.points == pts("c", 4) + pts("d", 4)


def test_an_entry_larger_than_max_points_goes_alone(make_spool: SpoolFactory) -> None:
    s = make_spool()
    s.add(pts("big", 50))
    s.add(pts("small", 1))
    batch = s.take(10)
    assert batch is not None
    assert len(batch.points) == 50


def test_a_taken_batch_is_never_merged_again(make_spool: SpoolFactory) -> None:
    s = make_spool()
    bid = s.add(pts("a", 2))
    first = s.take(100)
    assert first is not None
    assert first.batch_id == bid
    s.add(pts("b", 2))
    # Not acked (say the request timed out): the retry must carry the same id and points.
    again = s.take(100)
    assert again is not None
    assert (again.batch_id, again.points) == (bid, pts("a", 2))
    s.ack(again)
    nxt = s.take(100)
    assert nxt is not None
    assert nxt.points == pts("b", 2)


def test_merged_batch_keeps_its_identity_on_retry(make_spool: SpoolFactory) -> None:
    s = make_spool()
    for t in "abc":
        s.add(pts(t, 2))
    merged = s.take(100)
    assert merged is not None
    s.add(pts("d", 2))
    retry = s.take(100)
    assert retry is not None
    assert (retry.batch_id, retry.points) == (merged.batch_id, merged.points)


def test_newest_take_serves_fresh_data(make_spool: SpoolFactory) -> None:
    s = make_spool()
    for t in "abc":
        s.add(pts(t, 2))
    fresh = s.take(2, newest=True)
    assert fresh is not None
    assert fresh.points == pts("c", 2)
    s.ack(fresh)
    old = s.take(100)
    assert old is not None
    assert old.points == pts("a", 2) + pts("b", 2)


def test_reject_sets_the_batch_aside(make_spool: SpoolFactory) -> None:
    s = make_spool()
    s.add(pts("poison", 1))
    s.add(pts("good", 1))
    bad = s.take(1)
    assert bad is not None
    s.reject(bad, "HTTP 400: bad point")
    good = s.take(1)
    assert good is not None
    assert good.points == pts("good", 1)


def test_byte_bound_drops_oldest_and_counts_points(make_spool: SpoolFactory) -> None:
    s = make_spool(max_bytes=2000)
    for i in range(10):
        s.add(pts(f"t{i}", 5))  # each ~400 bytes
    entries, size, dropped = s.stats()
    assert size <= 2000
    assert dropped == 5 * (10 - entries)
    assert s.dropped_points == dropped
    batch = s.take(1000)
    assert batch is not None
    assert batch.points[-5:] == pts("t9", 5)  # the newest survived


def test_age_bound_drops_old_entries(make_spool: SpoolFactory) -> None:
    clock = FakeClock(1000 * NS)
    s = make_spool(max_age=60.0, clock=clock.seconds)
    s.add(pts("old", 3))
    clock.advance(30)
    s.add(pts("mid", 3))
    clock.advance(40)  # old is 70 s old now
    s.add(pts("new", 3))
    assert s.stats()[2] == 3
    batch = s.take(100)
    assert batch is not None
    assert batch.points == pts("mid", 3) + pts("new", 3)


def test_settle_sets_refused_points_aside_and_respools_the_unresolved(
    make_spool: SpoolFactory,
) -> None:
    s = make_spool()
    s.add(pts("a", 6))
    batch = s.take(100)
    assert batch is not None
    s.add(pts("fresh", 2))
    s.settle(batch, [(batch.points[0:1], "HTTP 422: points[0]: bad")], [batch.points[3:6]])
    assert s.ledger.snapshot() == ({"rejected": 1}, 1)
    assert s.dropped_points == 1
    # Oldest first; the unresolved part comes back alone, never merged with a neighbour.
    s.add(pts("fresher", 2))
    got = []
    while (b := s.take(100)) is not None:
        got.append(b)
        s.ack(b)
    assert [b.points for b in got] == [pts("fresh", 2), pts("a", 6)[3:6], pts("fresher", 2)]
    assert got[1].batch_id != batch.batch_id
