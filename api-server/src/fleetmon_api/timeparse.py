"""Query parameters for time: instants (epoch seconds or ISO 8601) and durations (30s, 5m)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

from fleetmon_api.errors import ApiError
from fleetmon_db.timeseries import NS

_DURATION_RE = re.compile(r"(\d{1,9})(s|m|h|d)?")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
# Far enough for any retention tier; beyond this an instant is a typo.
_MIN_S, _MAX_S = 0.0, 4102444800.0  # 1970 .. 2100


def parse_instant(value: str | None, name: str, default_ns: int) -> int:
    """Epoch seconds or ISO 8601 (UTC if no offset) to epoch ns; 422 naming `name`."""
    if value is None or value == "":
        return default_ns
    try:
        seconds = float(value)
    except ValueError:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(
                422, f"{name}: {value[:40]!r} is neither epoch seconds nor ISO 8601"
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        seconds = dt.timestamp()
    if not _MIN_S <= seconds <= _MAX_S:
        raise ApiError(422, f"{name}: {value[:40]!r} is outside 1970..2100")
    return int(seconds * NS)


def parse_duration(value: str, name: str) -> int:
    """`30`, `30s`, `5m`, `1h`, `1d` to seconds (at least 1); 422 naming `name`."""
    m = _DURATION_RE.fullmatch(value.strip())
    if not m:
        raise ApiError(422, f"{name}: {value[:40]!r} must look like 30s, 5m, 1h or 1d")
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds < 1 or seconds > 366 * 86400:
        raise ApiError(422, f"{name}: must be between 1s and 366d")
    return seconds


def check_range(start_ns: int, end_ns: int, max_span_s: int = 400 * 86400) -> None:
    """422 unless start < end and the span is sane."""
    if start_ns >= end_ns:
        raise ApiError(422, "time range: start must be before end")
    if end_ns - start_ns > max_span_s * NS:
        raise ApiError(422, f"time range: longer than {max_span_s // 86400} days")


def _aware_utc(value: datetime) -> datetime:
    """Require an offset and a year fleetmon can store; return the instant in UTC."""
    if value.tzinfo is None:
        raise ValueError("needs a timezone (e.g. 2026-01-01T00:00:00Z)")
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None
    if not _MIN_S <= moment.timestamp() <= _MAX_S:
        raise ValueError("must be between 1970 and 2100")
    return moment


# A datetime in a request body or query: timezone required, 1970..2100, normalised to UTC.
UtcDateTime = Annotated[datetime, AfterValidator(_aware_utc)]
