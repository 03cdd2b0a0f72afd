"""The collector contract, the declaration every collector module makes, and the OS handles
injected into every collector."""

from __future__ import annotations

import os
import time
from types import ModuleType
from typing import Any, Callable, Generic, Protocol, TypeVar

from fleetmon_agent.options import Boolean, Duration, Option, Options
from fleetmon_agent.points import Point
from fleetmon_agent.schema import Measurement

INTERVAL = Duration(1, 86400)


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
        sys_root: str = "/sys",
        expose: bool = False,
    ) -> None:
        self.psutil = psutil
        self.proc_root = proc_root
        self.sys_root = sys_root
        self.clock = clock
        self.monotonic = monotonic
        self.statvfs = statvfs
        self.agent_stats = agent_stats
        self.shared: dict[str, Any] = {} if shared is None else shared
        # Pull mode is on: collectors also fill Point.extra with what only it serves.
        self.expose = expose

    def ps(self) -> ModuleType:
        """The psutil module (imported lazily so fixture contexts never need it)."""
        if self.psutil is None:
            import psutil

            self.psutil = psutil
        return self.psutil  # type: ignore[no-any-return]


def every(seconds: float) -> Option[float]:
    """A collector's `interval` option with its own default."""
    return Option(seconds, INTERVAL, "how often it runs")


class CollectorOptions(Options):
    """The options every collector has; a collector's own options subclass this."""

    enabled = Option(True, Boolean(), "false: never run it")
    interval = every(5.0)


O = TypeVar("O", bound=CollectorOptions)  # noqa: E741 - the conventional name


class CollectorSpec(Generic[O]):
    """What a collector module declares: name, one-line doc, options, factory, measurements."""

    __slots__ = ("doc", "factory", "heavy", "measurements", "name", "options")

    def __init__(
        self,
        name: str,
        doc: str,
        options: type[O],
        factory: Callable[[Context, O], Collector],
        measurements: tuple[Measurement, ...],
        heavy: bool = False,  # scans every process: first to go when self-limits bite
    ) -> None:
        self.name = name
        self.doc = doc
        self.options = options
        self.factory = factory
        self.measurements = measurements
        self.heavy = heavy

    @property
    def interval(self) -> float:
        """The default interval, in seconds."""
        return float(self.options.declared()["interval"].default)

    def create(self, ctx: Context, options: O | None = None) -> Collector:
        """The collector, with these options (default: the declared defaults)."""
        return self.factory(ctx, options if options is not None else self.options())

    def __repr__(self) -> str:
        return f"CollectorSpec({self.name!r}, {self.interval!r})"
