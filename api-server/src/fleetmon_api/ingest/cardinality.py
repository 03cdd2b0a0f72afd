"""Per-host cardinality limits: how many series, measurements and fields one host may use.

A series is a measurement and a tag set (the `host` tag included, so every host has its
own). Each one costs the store memory and index space for as long as it is kept, and the
queries that scan a measurement for every host pay for all of them; a host that sends
random tag values, or random measurement and field names, would otherwise grow that
without bound until the store refuses everyone. So each host gets a budget, counted over
a sliding window (between one and two `window_s`): series the host stops sending (the pid
of a process that ended, in `procstat`) leave its count, the ones it keeps sending stay.

Tracking is per process and in memory, rebuilt from traffic: a host's steady series are
known again within one send interval after a start, as after a window turns. Persisting
would buy little, since the count is of recent series anyway; the cost is that a restart
(or each of `serve --workers N` processes) starts a host's count afresh, so a host can
add at most N times its budget per window (docs/api.md, "Limits").

Memory is bounded by the limits (a few integers per series of each host, at most the
budget), and a point costs one set lookup of its shape: only a shape new in the window is
hashed and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from fleetmon_api.errors import ApiError
from fleetmon_db.timeseries import PointBatch, PointShape

# A point's shape as PointBatch has it: (host, measurement, tags as sent, field names); the
# host is the same for every point of one host's batches.
_Shape = PointShape


@dataclass(frozen=True, slots=True)
class CardinalityLimits:
    """Budgets per host, and the window they are counted over."""

    max_series: int
    max_measurements: int
    max_fields: int
    window_s: float


class CardinalityExceeded(ApiError):
    """422: accepting the batch would take the host past one of its budgets."""

    reason = "cardinality"

    def __init__(self, what: str, count: int, limit: int, setting: str, example: str) -> None:
        super().__init__(
            422,
            f"the batch would give this host {count} {what}, more than its limit of {limit} "
            f"(e.g. new: {example}); {setting} raises it; the whole batch was rejected",
        )


class _Window:
    """Keys seen in this window and the previous one; counts their union."""

    __slots__ = ("added", "current", "previous")

    def __init__(self) -> None:
        self.current: set[int] = set()
        self.previous: set[int] = set()
        self.added = 0  # keys in `current` that are not in `previous`

    def __len__(self) -> int:
        return len(self.previous) + self.added

    def new(self, keys: set[int]) -> int:
        """How many of `keys` this window does not hold yet."""
        return sum(1 for k in keys if k not in self.current and k not in self.previous)

    def add(self, keys: set[int]) -> None:
        for k in keys:
            if k not in self.current:
                self.current.add(k)
                if k not in self.previous:
                    self.added += 1

    def turn(self) -> None:
        self.previous, self.current, self.added = self.current, set(), 0


@dataclass(slots=True)
class _Host:
    turns_at: float
    # Shapes (measurement, tags as sent, field names) seen in the current window: the
    # cheap test most points stop at.
    shapes: set[_Shape] = field(default_factory=set)
    series: _Window = field(default_factory=_Window)
    measurements: _Window = field(default_factory=_Window)
    fields: _Window = field(default_factory=_Window)


class Cardinality:
    """Counts each host's series, measurements and fields, refusing a batch past a budget."""

    def __init__(self, limits: CardinalityLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._hosts: dict[int, _Host] = {}

    def check(self, host_id: int, batch: PointBatch) -> None:
        """Count the batch's new series for the host, or raise CardinalityExceeded."""
        now = self._clock()
        h = self._hosts.get(host_id)
        if h is None:
            h = self._hosts[host_id] = _Host(now + self.limits.window_s)
        elif now >= h.turns_at:
            self._turn(h, now)
        seen = h.shapes
        # The shapes themselves (no new tuple per point): most are already in `seen`.
        fresh = {shape for shape in batch.shapes if shape not in seen}
        if fresh:
            self._count(h, fresh)

    def _turn(self, h: _Host, now: float) -> None:
        # Idle for two windows or more: nothing of the host's is recent any more.
        if now >= h.turns_at + self.limits.window_s:
            h.series, h.measurements, h.fields = _Window(), _Window(), _Window()
        else:
            h.series.turn()
            h.measurements.turn()
            h.fields.turn()
        h.shapes = set()
        h.turns_at = now + self.limits.window_s

    def _count(self, h: _Host, fresh: set[_Shape]) -> None:
        lim = self.limits
        # Tags in any order are one series; hash() is per process, as the counts are.
        series = {hash((m, frozenset(tags))): (m, tags) for _, m, tags, _ in fresh}
        measurements = {hash(m): m for _, m, _, _ in fresh}
        fields = {hash((m, f)): (m, f) for _, m, _, names in fresh for f in names}
        checks = (
            (h.series, series, lim.max_series, "series", "FLEETMON_MAX_SERIES_PER_HOST"),
            (
                h.measurements,
                measurements,
                lim.max_measurements,
                "measurements",
                "FLEETMON_MAX_MEASUREMENTS_PER_HOST",
            ),
            (h.fields, fields, lim.max_fields, "fields", "FLEETMON_MAX_FIELDS_PER_HOST"),
        )
        for window, keys, limit, what, setting in checks:
            new = window.new(set(keys))
            if new and len(window) + new > limit:
                example = next(v for k, v in keys.items() if window.new({k}))
                raise CardinalityExceeded(what, len(window) + new, limit, setting, _show(example))
        for window, keys, *_ in checks:
            window.add(set(keys))
        if len(h.shapes) + len(fresh) > 4 * lim.max_series:
            # Many shapes per series (field subsets, tag orders): forget them, the windows
            # still hold the counts; only the cheap test is lost for a while.
            h.shapes = set()
        h.shapes |= fresh


def _show(example: object) -> str:
    """A short, quoted rendering of a new series, measurement or field for the message."""
    if isinstance(example, str):  # a measurement
        return repr(example[:64])
    m, rest = cast(tuple[str, object], example)
    if isinstance(rest, str):  # a field
        return repr(f"{m}.{rest}"[:120])
    tags = cast(tuple[tuple[str, str], ...], rest)
    return repr(",".join([m, *(f"{k}={v}" for k, v in tags)])[:120])  # a series
