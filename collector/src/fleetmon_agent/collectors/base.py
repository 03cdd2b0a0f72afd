"""The collector contract and the OS handles injected into every collector."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Protocol

from fleetmon_agent.points import Point


class Collector(Protocol):
    """A source of points: `collect(now)` returns what it sees at wall-clock time `now`."""

    def collect(self, now: float) -> list[Point]:
        """Return this collector's points for wall-clock time `now`."""
        ...


@dataclass
class Context:
    """Everything a collector may touch on the host, injected so tests can feed fixtures."""

    psutil: Any = None
    proc_root: str = "/proc"
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    statvfs: Callable[[str], Any] = os.statvfs
    agent_stats: Any | None = None
    shared: dict[str, Any] = field(default_factory=dict)

    def ps(self) -> ModuleType:
        """The psutil module (imported lazily so fixture contexts never need it)."""
        if self.psutil is None:
            import psutil

            self.psutil = psutil
        return self.psutil  # type: ignore[no-any-return]


Options = Mapping[str, Any]
Factory = Callable[[Context, Options], Collector]


@dataclass(frozen=True)
class CollectorSpec:
    """A registered collector: its name, default interval and options, and its factory."""

    name: str
    interval: float
    factory: Factory
    options: Mapping[str, Any] = field(default_factory=dict)
    heavy: bool = False  # scans every process: first to go when self-limits bite
