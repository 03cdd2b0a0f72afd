"""Self-limits and the optional Prometheus endpoint."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fleetmon_agent.agent import Agent, Running
from fleetmon_agent.limits import SelfLimits
from fleetmon_agent.points import Point
from tests.collector.conftest import make_config
from tests.support.clock import FakeClock


class FakeProcess:
    """cpu_times/memory_info from settable numbers."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.rss = 10 * 1048576

    def cpu_times(self) -> SimpleNamespace:
        return SimpleNamespace(user=self.cpu, system=0.0)

    def memory_info(self) -> SimpleNamespace:
        return SimpleNamespace(rss=self.rss)


def limits(action: str, proc: FakeProcess, clock: FakeClock, hooks: dict[str, int]) -> SelfLimits:
    def disable() -> str:
        hooks["disabled"] += 1
        return "procstat"

    def stop() -> None:
        hooks["stopped"] += 1

    return SelfLimits(2.0, 50, action, disable, stop, process=proc, monotonic=clock.seconds)


def test_within_limits_nothing_happens() -> None:
    proc, clock, hooks = FakeProcess(), FakeClock(0), {"disabled": 0, "stopped": 0}
    lim = limits("stop", proc, clock, hooks)
    clock.advance(60)
    proc.cpu = 0.6  # 1 % of a core
    assert lim.check() == []
    assert hooks == {"disabled": 0, "stopped": 0}


def test_cpu_over_limit_disables_collectors() -> None:
    proc, clock, hooks = FakeProcess(), FakeClock(0), {"disabled": 0, "stopped": 0}
    lim = limits("disable_collectors", proc, clock, hooks)
    clock.advance(60)
    proc.cpu = 3.0  # 5 % of a core
    assert lim.check() == ["CPU 5.00% of one core > limit 2%"]
    assert hooks["disabled"] == 1


def test_rss_over_limit_stops() -> None:
    proc, clock, hooks = FakeProcess(), FakeClock(0), {"disabled": 0, "stopped": 0}
    lim = limits("stop", proc, clock, hooks)
    clock.advance(60)
    proc.rss = 80 * 1048576
    assert lim.check() == ["RSS 80.0 MB > limit 50 MB"]
    assert hooks["stopped"] == 1


class Boom:
    """A collector that always fails."""

    def collect(self, now: float) -> list[Point]:
        raise RuntimeError("sensor exploded")


class One:
    """A collector that always works."""

    def collect(self, now: float) -> list[Point]:
        return [Point("one", now, {}, {"v": 1})]


def test_agent_disables_process_collectors_first_and_survives_failures(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    agent = Agent(
        config,
        "k",
        collectors=[
            Running("boom", 0.05, Boom()),
            Running("one", 0.05, One()),
            Running("procstat", 0.05, One(), heavy=True),
        ],
    )
    agent.start()
    try:
        for r in agent.collectors:
            agent.run_collector(r)
        assert agent.stats.latencies["boom"].errors == 2
        assert agent.stats.latencies["one"].points == 2
        assert agent.disable_next() == "procstat"
        assert agent.disable_next() == "boom"
        assert agent.stats.disabled == ["procstat", "boom"]
    finally:
        agent.shutdown()


def test_unwritable_spool_keeps_points_in_memory_until_it_recovers(tmp_path: Path) -> None:
    import os
    import stat

    config = make_config(tmp_path)
    agent = Agent(config, "k", collectors=[Running("one", 0.05, One())])
    spool_dir = tmp_path / "spool"
    agent.run_collector(agent.collectors[0])
    if os.geteuid() == 0:
        # root ignores permissions: make the spool path unusable another way
        os.rename(spool_dir, tmp_path / "moved")
        spool_dir.write_text("not a directory")
    else:
        spool_dir.chmod(stat.S_IRUSR | stat.S_IXUSR)
    agent.flush()  # fails, logs, keeps the point
    assert agent.spool.stats()[0] == 0
    if spool_dir.is_file():
        spool_dir.unlink()
        os.rename(tmp_path / "moved", spool_dir)
    else:
        spool_dir.chmod(stat.S_IRWXU)
    agent.run_collector(agent.collectors[0])
    agent.flush()
    batch = agent.spool.take(100)
    assert batch is not None
    assert len(batch.points) == 2
    assert agent.spool.ledger.total == 0


def test_failing_collector_logging_is_rate_limited(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    agent = Agent(make_config(tmp_path), "k", collectors=[Running("boom", 0.05, Boom())])
    with caplog.at_level("ERROR", logger="fleetmon_agent.agent"):
        for _ in range(5):
            agent.run_collector(agent.collectors[0])
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["collector boom failed: RuntimeError('sensor exploded')"]
    assert agent.stats.latencies["boom"].errors == 5
    assert agent.collectors[0].suppressed == 4


def test_collectors_sharing_an_interval_share_one_job(tmp_path: Path) -> None:
    config = make_config(tmp_path, batch={"flush_interval": 0.2})
    agent = Agent(
        config,
        "k",
        collectors=[
            Running("a", 0.2, One()),
            Running("b", 0.2, One()),
            Running("slow", 0.1, One()),
            Running("procstat", 0.1, One(), heavy=True),
        ],
    )
    agent.start()
    try:
        assert len(agent.scheduler.jobs) == 2  # 0.2 s (a, b, then the flush) and 0.1 s
        before = agent.spool.stats()[0]
        agent.run_due(0.2)
        assert agent.stats.latencies["a"].points == agent.stats.latencies["b"].points == 2
        assert agent.spool.stats()[0] == before + 1  # flushed in the same wake-up
        assert agent.disable_next() == "procstat"
        assert len(agent.scheduler.jobs) == 2  # "slow" still runs
        assert agent.disable_next() == "a"
        assert agent.disable_next() == "b"
        assert agent.disable_next() == "slow"
        assert len(agent.scheduler.jobs) == 1  # the flush goes on
    finally:
        agent.shutdown()


def test_points_beyond_the_memory_buffer_are_counted_as_unspooled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fleetmon_agent import agent as agent_module
    from fleetmon_agent.spool import MemorySpool

    class FullDisk(MemorySpool):
        full = True

        def add(self, points: Any, batch_id: str | None = None) -> str:
            if self.full:
                raise OSError(28, "No space left on device")
            return super().add(points, batch_id)

    monkeypatch.setattr(agent_module, "MAX_UNSPOOLED", 3)
    spool = FullDisk()
    agent = Agent(make_config(tmp_path), "k", collectors=[Running("one", 0.05, One())], spool=spool)
    for _ in range(5):
        agent.run_collector(agent.collectors[0])
        agent.flush()
    assert spool.ledger.snapshot() == ({"unspooled": 2}, 0)
    spool.full = False
    agent.flush()
    batch = spool.take(100)
    assert batch is not None
    assert len(batch.points) == 3  # the newest three: the oldest were dropped and counted


def test_points_the_spool_cannot_take_at_exit_are_counted(tmp_path: Path) -> None:
    from fleetmon_agent.spool import MemorySpool

    class FullDisk(MemorySpool):
        def add(self, points: Any, batch_id: str | None = None) -> str:
            raise OSError(28, "No space left on device")

    spool = FullDisk()
    agent = Agent(make_config(tmp_path), "k", collectors=[Running("one", 0.05, One())], spool=spool)
    agent.run_collector(agent.collectors[0])
    agent.run_collector(agent.collectors[0])
    agent.shutdown()
    assert spool.ledger.snapshot() == ({"unspooled": 2}, 0)
