"""The collector contract and the OS handles injected into every collector."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Callable, Protocol

from fleetmon_agent.points import Point


class Collector(Protocol):
    """A source of points: `collect(now)` returns what it sees at wall-clock time `now`."""

    def collect(self, now: float) -> list[Point]:
        """Return this collector's points for wall-clock time `now`."""
        ...


class Context:
    """Everything a collector may touch on the host, injected so tests can feed fixtures."""

    def __init__(
        self,
        psutil: Any = None,
        proc_root: str = "/proc",
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        statvfs: Callable[[str], Any] = os.statvfs,
        agent_stats: Any | None = None,
        shared: dict[str, Any] | None = None,
    ) -> None:
        self.psutil = psutil
        self.proc_root = proc_root
        self.clock = clock
        self.monotonic = monotonic
        self.statvfs = statvfs
        self.agent_stats = agent_stats
        self.shared: dict[str, Any] = {} if shared is None else shared

    def ps(self) -> ModuleType:
        """The psutil module (imported lazily so fixture contexts never need it)."""
        if self.psutil is None:
            import psutil

            self.psutil = psutil
        return self.psutil  # type: ignore[no-any-return]


Options = Mapping[str, Any]
Factory = Callable[[Context, Options], Collector]


class CollectorSpec:
    """A registered collector: its name, default interval and options, and its factory."""

    __slots__ = ("factory", "heavy", "interval", "name", "options")

    def __init__(
        self,
        name: str,
        interval: float,
        factory: Factory,
        options: Mapping[str, Any] | None = None,
        heavy: bool = False,  # scans every process: first to go when self-limits bite
    ) -> None:
        self.name = name
        self.interval = interval
        self.factory = factory
        self.options: Mapping[str, Any] = {} if options is None else options
        self.heavy = heavy

    def __repr__(self) -> str:
        return f"CollectorSpec({self.name!r}, {self.interval!r})"
