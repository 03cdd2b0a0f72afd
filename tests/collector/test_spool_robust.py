"""Whatever lies in the spool dir, delivery goes on: each file is delivered or quarantined."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetmon_agent.sender import encode
from fleetmon_agent.spool import Batch, FileSpool
from fleetmon_agent.spool.files import QUARANTINE, spool_status
from tests.collector.test_spool_contract import pts

_NOW_NS = time.time_ns() - 10**9  # within spool.max_age, older than anything added later
NAME_N = f"{_NOW_NS:020d}-n-5-00000000-0000-4000-8000-000000000001.json"
NAME_S = f"{_NOW_NS + 1:020d}-s-5-00000000-0000-4000-8000-000000000002.json"
NAME_M = f"{_NOW_NS + 2:020d}-m-5-00000000-0000-4000-8000-000000000003.json"


def drain(spool: FileSpool, max_points: int = 1000) -> list[Batch]:
    """Take and ack until the spool is empty (bounded: a loop would be a bug)."""
    out: list[Batch] = []
    for _ in range(100):
        batch = spool.take(max_points)
        if batch is None:
            return out
        encode(batch, spool.ledger)  # every batch handed out can be put on the wire
        spool.ack(batch)
        out.append(batch)
    raise AssertionError("the spool never ran empty")


def quarantined(root: Path) -> set[str]:
    return {n for n in os.listdir(root / QUARANTINE) if not n.endswith(".reason")}


def check_bad_file_is_set_aside(root: Path, name: str) -> None:
    """A fresh valid batch around the bad file still flows; the bad file is quarantined."""
    spool = FileSpool(str(root))
    spool.add(pts("fresh", 3))
    points = [p for b in drain(spool) for p in b.points]
    assert pts("fresh", 3) == [p for p in points if p["tags"].get("b") == "fresh"]
    assert name in quarantined(root)
    assert (root / QUARANTINE / f"{name}.reason").read_text().strip()
    assert spool.ledger.quarantined_files == 1
    assert spool.ledger.dropped == {"unreadable": 5}
    # The counters are kept next to the spool: a restart does not reset them.
    again = FileSpool(str(root))
    assert again.ledger.dropped == {"unreadable": 5}
    assert again.ledger.quarantined_files == 1


def test_deep_nesting_in_a_fresh_file(tmp_path: Path) -> None:
    (tmp_path / NAME_N).write_bytes(b"[" * 200_000)
    check_bad_file_is_set_aside(tmp_path, NAME_N)


def test_deep_nesting_in_a_merged_file_does_not_stop_start_up(tmp_path: Path) -> None:
    (tmp_path / NAME_M).write_bytes(b"[" * 200_000)
    check_bad_file_is_set_aside(tmp_path, NAME_M)


def test_a_directory_named_like_a_spool_file(tmp_path: Path) -> None:
    (tmp_path / NAME_S).mkdir()
    check_bad_file_is_set_aside(tmp_path, NAME_S)


def test_a_fifo_named_like_a_spool_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / NAME_N)  # opening it would block for ever: never opened
    check_bad_file_is_set_aside(tmp_path, NAME_N)


def test_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / NAME_N).write_bytes(b"")
    check_bad_file_is_set_aside(tmp_path, NAME_N)


def test_points_of_the_wrong_shape(tmp_path: Path) -> None:
    doc = {"batch_id": "x", "points": [{"measurement": "m", "time": "soon", "fields": {}}]}
    (tmp_path / NAME_N).write_text(json.dumps(doc))
    check_bad_file_is_set_aside(tmp_path, NAME_N)


def test_an_unreadable_file_found_at_take_time(tmp_path: Path) -> None:
    """A file that turns unreadable after start-up (here: replaced by a directory)."""
    spool = FileSpool(str(tmp_path))
    spool.add(pts("gone", 5))
    spool.add(pts("fresh", 3))
    (name,) = [n for n in os.listdir(tmp_path) if "-n-5-" in n]
    os.unlink(tmp_path / name)
    os.mkdir(tmp_path / name)
    points = [p for b in drain(spool) for p in b.points]
    assert points == pts("fresh", 3)
    assert name in quarantined(tmp_path)
    assert spool.ledger.dropped == {"unreadable": 5}


def test_huge_numbers_are_delivered_as_they_are(tmp_path: Path) -> None:
    doc = {"batch_id": "x", "points": [{"measurement": "m", "time": 1.0, "fields": {"v": 10**30}}]}
    (tmp_path / NAME_N.replace("-n-5-", "-n-1-")).write_text(json.dumps(doc))
    spool = FileSpool(str(tmp_path))
    (batch,) = drain(spool)
    assert batch.points[0]["fields"]["v"] == 10**30


# Contents: arbitrary bytes, JSON-ish fragments, and valid documents with odd values.
_json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_json = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_docs = st.fixed_dictionaries(
    {
        "points": st.lists(
            st.dictionaries(st.sampled_from(["measurement", "time", "tags", "fields"]), _json),
            max_size=3,
        )
    },
    optional={"batch_id": _json, "sources": _json},
).map(lambda d: json.dumps(d).encode())
_contents = (
    st.binary(max_size=200)
    | _docs
    | st.sampled_from(
        [b"[" * 50_000, b"{" * 50_000, b'{"points": [' * 20_000, b"1e999999", b"9" * 5000]
    )
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=_contents, name=st.sampled_from([NAME_N, NAME_S, NAME_M]))
def test_fuzz_any_content_is_delivered_or_quarantined(
    tmp_path_factory, content: bytes, name: str
) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    (root / name).write_bytes(content)
    spool = FileSpool(str(root))
    spool.add(pts("fresh", 2))
    batches = drain(spool)
    fresh = [p for b in batches for p in b.points if p.get("tags", {}).get("b") == "fresh"]
    assert fresh == pts("fresh", 2)
    others = [
        b for b in batches if not any(p.get("tags", {}).get("b") == "fresh" for p in b.points)
    ]
    if name not in quarantined(root):
        # Delivered: nothing else in quarantine, nothing counted.
        assert spool.ledger.quarantined_files == 0
        assert sum(spool.ledger.dropped.values()) == 0
    else:
        assert spool.ledger.dropped == {"unreadable": 5}
        assert not others
    assert not [n for n in os.listdir(root) if n.endswith(".json") and n != "counters.json"]


def test_refused_points_are_quarantined_as_spool_files_that_can_be_sent_again(
    tmp_path: Path,
) -> None:
    spool = FileSpool(str(tmp_path))
    spool.add(pts("a", 4))
    batch = spool.take(100)
    assert batch is not None
    spool.settle(batch, [(batch.points[1:2], "HTTP 422: points[1]: bad")])
    assert spool.stats()[0] == 0
    (name,) = quarantined(tmp_path)
    assert (tmp_path / QUARANTINE / f"{name}.reason").read_text() == "HTTP 422: points[1]: bad\n"
    status = spool_status(str(tmp_path))
    assert status["dropped_points"] == {"rejected": 1}
    assert (status["quarantined_files"], status["quarantined_files_total"]) == (1, 1)
    # The operator fixed the cause and moves the file back: it is a batch like any other.
    os.rename(tmp_path / QUARANTINE / name, tmp_path / name)
    (again,) = drain(FileSpool(str(tmp_path)))
    assert again.points == pts("a", 4)[1:2]
