"""One fake wall clock for every test: it moves only when the test moves it.

Code under test takes its clock injected, each in the unit it works in: the stores call a
function returning epoch nanoseconds (`clock.ns`), the rate limiter one returning epoch
seconds (`clock.seconds`), the alert worker an object with `now()` (the clock itself).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

NS = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ns(moment: datetime) -> int:
    """Epoch nanoseconds of an aware datetime, exactly (no float rounding)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


class FakeClock:
    """A settable clock, read as nanoseconds, seconds or an aware UTC datetime."""

    def __init__(self, start: datetime | int | None = None) -> None:
        """Start at `start` (a datetime or epoch ns); default: now, to the whole second."""
        if start is None:
            start = time.time_ns() // NS * NS
        self.now_ns = start if isinstance(start, int) else _ns(start)

    def ns(self) -> int:
        """Epoch nanoseconds."""
        return self.now_ns

    def seconds(self) -> float:
        """Epoch seconds."""
        return self.now_ns / NS

    def now(self) -> datetime:
        """The current instant, UTC-aware (microsecond precision, as datetime)."""
        return _EPOCH + timedelta(microseconds=self.now_ns // 1000)

    def advance(self, seconds: float) -> datetime:
        """Move forward by `seconds` and return the new instant."""
        self.now_ns += round(seconds * NS)
        return self.now()

    def set(self, moment: datetime) -> None:
        """Jump to `moment`."""
        self.now_ns = _ns(moment)
