"""The per-process snapshot behind the fleet overview: bounded staleness, store as truth."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from fleetmon_api.snapshot import Snapshot


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self) -> int:
        self.gate.wait(5)
        if self.fail:
            raise RuntimeError("store down")
        self.calls += 1
        return self.calls


def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_fresh_value_is_served_without_reading() -> None:
    snap: Snapshot[int] = Snapshot("t")
    load = Loader()
    assert snap.get(load, 60, 120)[0] == 1
    assert snap.get(load, 60, 120)[0] == 1
    assert load.calls == 1


def test_disabled_reads_every_time() -> None:
    snap: Snapshot[int] = Snapshot("t")
    load = Loader()
    assert [snap.get(load, 0, 30)[0] for _ in range(3)] == [1, 2, 3]


def test_stale_value_served_while_one_background_refresh_runs() -> None:
    snap: Snapshot[int] = Snapshot("t")
    load = Loader()
    v, read_at = snap.get(load, 0.05, 60)
    assert v == 1
    assert read_at == pytest.approx(time.time(), abs=5)
    time.sleep(0.06)
    load.gate.clear()  # hold the refresh
    assert [snap.get(load, 0.05, 60)[0] for _ in range(5)] == [1] * 5  # no waiting
    load.gate.set()
    wait_for(lambda: snap.get(load, 0.05, 60)[0] == 2)
    assert load.calls == 2  # one refresh for all five stale hits


def test_too_old_value_is_read_synchronously_and_errors_surface() -> None:
    snap: Snapshot[int] = Snapshot("t")
    load = Loader()
    snap.get(load, 0.01, 0.02)
    time.sleep(0.03)
    assert snap.get(load, 0.01, 0.02)[0] == 2
    time.sleep(0.03)
    load.fail = True
    with pytest.raises(RuntimeError, match="store down"):
        snap.get(load, 0.01, 0.02)


def test_failed_background_refresh_keeps_serving_until_max_age() -> None:
    snap: Snapshot[int] = Snapshot("t")
    load = Loader()
    snap.get(load, 0.01, 60)
    time.sleep(0.02)
    load.fail = True
    assert snap.get(load, 0.01, 60)[0] == 1
    time.sleep(0.05)
    assert snap.get(load, 0.01, 60)[0] == 1  # refresh failed; the value is still in bounds
    load.fail = False
    wait_for(lambda: snap.get(load, 0.01, 60)[0] == 2)
