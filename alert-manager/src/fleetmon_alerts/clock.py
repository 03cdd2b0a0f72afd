"""Injected clocks: the worker never reads the wall clock directly, so tests can drive time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


class ManualClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        """The current instant, UTC-aware."""
        return self._now

    def advance(self, seconds: float) -> datetime:
        """Move forward by `seconds` and return the new instant."""
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to `moment`."""
        self._now = moment


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime."""
    return int(moment.timestamp() * 1_000_000) * 1000


def from_ns(ns: int) -> datetime:
    """Aware UTC datetime of nanoseconds since the epoch."""
    return datetime.fromtimestamp(ns / 1e9, UTC)
