"""What only the file spool promises: durability, recovery, quarantine; plus a property test."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetmon_agent.spool import FileSpool, SpoolError
from fleetmon_agent.spool.files import QUARANTINE, spool_status
from tests.collector.test_spool_contract import pts


def test_batches_survive_a_restart(tmp_path: Path) -> None:
    s = FileSpool(str(tmp_path))
    bid = s.add(pts("a", 3))
    s2 = FileSpool(str(tmp_path))
    batch = s2.take(100)
    assert batch is not None
    assert batch.batch_id == bid
    assert batch.points == pts("a", 3)


def test_torn_temp_file_is_discarded_on_start(tmp_path: Path) -> None:
    s = FileSpool(str(tmp_path))
    s.add(pts("a", 1))
    (tmp_path / ".tmp-00000000000000000001-n-1-x.json").write_text('{"batch_id": "x", "poi')
    s2 = FileSpool(str(tmp_path))
    assert s2.stats()[0] == 1
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def test_corrupt_file_is_quarantined_and_the_rest_flows(tmp_path: Path) -> None:
    s = FileSpool(str(tmp_path))
    s.add(pts("a", 2))
    s.add(pts("b", 2))
    first = sorted(n for n in os.listdir(tmp_path) if n.endswith(".json"))[0]
    (tmp_path / first).write_bytes(b'{"batch_id": "trunc')
    s2 = FileSpool(str(tmp_path))
    batch = s2.take(100)
    assert batch is not None
    assert batch.points == pts("b", 2)
    assert first in os.listdir(tmp_path / QUARANTINE)
    assert "unreadable" in (tmp_path / QUARANTINE / f"{first}.reason").read_text()
    assert s2.quarantined == 1


def test_foreign_file_is_quarantined(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    s = FileSpool(str(tmp_path))
    assert s.take(10) is None
    assert "notes.txt" in os.listdir(tmp_path / QUARANTINE)


def test_rejected_batch_lands_in_quarantine_with_reason(tmp_path: Path) -> None:
    s = FileSpool(str(tmp_path))
    s.add(pts("p", 1))
    batch = s.take(10)
    assert batch is not None
    s.reject(batch, "HTTP 400: point 0 has no fields")
    reasons = [n for n in os.listdir(tmp_path / QUARANTINE) if n.endswith(".reason")]
    assert len(reasons) == 1
    assert (tmp_path / QUARANTINE / reasons[0]).read_text().startswith("HTTP 400")


def test_unwritable_spool_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    with pytest.raises(SpoolError, match=r"spool.dir '.*file/spool' is not writable"):
        FileSpool(str(blocker / "spool"))


def test_spool_status_is_read_only(tmp_path: Path) -> None:
    s = FileSpool(str(tmp_path), clock=lambda: 1000.0)
    s.add(pts("a", 3))
    s.add(pts("b", 4))
    (tmp_path / ".tmp-in-progress").write_text("x")
    status = spool_status(str(tmp_path), now=1010.0)
    assert (status["files"], status["points"], status["quarantined_files"]) == (2, 7, 0)
    assert status["oldest_age_seconds"] == 10.0
    assert (tmp_path / ".tmp-in-progress").exists()


class Crash(Exception):
    """Stands for the process dying at a fault point."""


@pytest.mark.parametrize("stage", ["merge:written", "merge:partial-unlink", "seal:before-rename"])
def test_crash_inside_take_loses_and_duplicates_nothing(tmp_path: Path, stage: str) -> None:
    def fault(at: str) -> None:
        if at == stage:
            raise Crash(at)

    s = FileSpool(str(tmp_path), fault=fault)
    for t in "abc":
        s.add(pts(t, 2))
    with pytest.raises(Crash):
        s.take(1 if stage.startswith("seal") else 100)
    s2 = FileSpool(str(tmp_path))
    got: list[Any] = []
    while (b := s2.take(100)) is not None:
        got.extend(b.points)
        s2.ack(b)
    assert sorted(map(repr, got)) == sorted(map(repr, pts("a", 2) + pts("b", 2) + pts("c", 2)))


# --- property: any sequence of add / take / ack / crash (with torn writes) delivers each
# --- added point exactly once under the server's batch-id dedup.

ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 5)),
        st.tuples(st.just("take"), st.integers(1, 12), st.booleans()),
        st.tuples(st.just("ack"), st.booleans()),
        st.tuples(
            st.just("crash"),
            st.sampled_from(
                [
                    "none",
                    "write:before-rename",
                    "merge:written",
                    "merge:partial-unlink",
                    "seal:before-rename",
                ]
            ),
        ),
        st.tuples(st.just("torn"), st.binary(max_size=40)),
    ),
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=ops)
def test_write_crash_restart_replay_delivers_exactly_once(
    tmp_path_factory: pytest.TempPathFactory, script: list[tuple[Any, ...]]
) -> None:
    d = str(tmp_path_factory.mktemp("prop"))
    armed: list[str] = []

    def fault(at: str) -> None:
        if armed and armed[0] == at:
            armed.clear()
            raise Crash(at)

    spool = FileSpool(d, fault=fault)
    added: list[Any] = []  # points whose add() returned (durable)
    ledger: dict[str, list[Any]] = {}  # what the server accepted, by batch id
    held = None
    counter = 0
    for op in script:
        try:
            if op[0] == "add":
                new = pts(f"x{counter}", op[1])
                counter += 1
                spool.add(new)
                added.extend(new)
            elif op[0] == "take":
                held = spool.take(op[1], newest=op[2])
            elif op[0] == "ack" and held is not None:
                # Delivered (the server keeps it); the ack may be lost if we "crash" now.
                assert ledger.setdefault(held.batch_id, held.points) == held.points
                if op[1]:
                    spool.ack(held)
                held = None
            elif op[0] == "crash":
                armed[:] = [op[1]] if op[1] != "none" else []
                if op[1] == "none":
                    raise Crash("kill -9")
            elif op[0] == "torn":
                with open(os.path.join(d, ".tmp-torn"), "wb") as f:
                    f.write(op[1])
        except Crash:
            # A write torn by the crash never got its rename: the point was never durable.
            spool = FileSpool(d, fault=fault)
            armed.clear()
            held = None
    spool = FileSpool(d)
    while (b := spool.take(7)) is not None:
        assert ledger.setdefault(b.batch_id, b.points) == b.points
        spool.ack(b)
    delivered = [p for points in ledger.values() for p in points]
    key = [repr(p) for p in delivered]
    assert len(key) == len(set(key)), "a point was delivered under two batch ids"
    assert sorted(key) == sorted(repr(p) for p in added)
