"""Injected clocks: the worker never reads the wall clock directly, so tests can drive time
(tests.support.clock.FakeClock)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current UTC time."""

    def now(self) -> datetime:
        """The current instant, UTC-aware."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """The current instant, UTC-aware."""
        return datetime.now(UTC)


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime."""
    return int(moment.timestamp() * 1_000_000) * 1000


def from_ns(ns: int) -> datetime:
    """Aware UTC datetime of nanoseconds since the epoch."""
    return datetime.fromtimestamp(ns / 1e9, UTC)
