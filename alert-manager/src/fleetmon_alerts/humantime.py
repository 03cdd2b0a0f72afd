"""Times as a person reads them in a notification: "14:02 UTC (35 min)", never an ISO stamp
with microseconds. The payload keeps ISO times for machines (webhooks, Alertmanager)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def _utc(t: datetime) -> datetime:
    # Naive datetimes are UTC everywhere in fleetmon (SQLite hands them back without zone).
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return _utc(value)
    if not value:
        return None
    try:
        return _utc(datetime.fromisoformat(str(value)))
    except ValueError:
        return None


def clock_time(t: datetime, ref: datetime) -> str:
    """'14:02 UTC' on the day of `ref`; with the date ('29 Nov 14:02 UTC') on another day,
    and the year in another year."""
    t, ref = _utc(t), _utc(ref)
    if t.date() == ref.date():
        return f"{t:%H:%M} UTC"
    if t.year == ref.year:
        return f"{t.day} {t:%b %H:%M} UTC"
    return f"{t.day} {t:%b %Y %H:%M} UTC"


def duration(seconds: float) -> str:
    """'under a minute', '35 min', '2 h 5 min', '3 d 4 h': two units at most."""
    s = int(max(0.0, seconds))
    if s < 60:
        return "under a minute"
    minutes, hours, days = s // 60 % 60, s // 3600 % 24, s // 86_400
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def since_text(payload: Mapping[str, Any]) -> str:
    """When it started or ended, as the notification's reader wants it.

    Firing: '14:02 UTC (35 min)', how long it has fired when the message was made.
    Resolved: '14:40 UTC (after 38 min)', how long it fired.
    """
    at = _parse(payload.get("at")) or datetime.now(UTC)
    since = _parse(payload.get("since"))
    if payload.get("status") == "resolved":
        ended = _parse(payload.get("ended_at")) or at
        lasted = f" (after {duration((ended - since).total_seconds())})" if since else ""
        return f"{clock_time(ended, at)}{lasted}"
    if since is None:
        return clock_time(at, at)
    return f"{clock_time(since, at)} ({duration((at - since).total_seconds())})"


def at_text(payload: Mapping[str, Any]) -> str:
    """When the message was made: '14:37 UTC' (the moment its value and summary describe)."""
    at = _parse(payload.get("at")) or datetime.now(UTC)
    return clock_time(at, at)


def since_label(payload: Mapping[str, Any]) -> str:
    """The label of `since_text`: 'Firing since' or 'Resolved at'."""
    return "Resolved at" if payload.get("status") == "resolved" else "Firing since"


def value_label(payload: Mapping[str, Any]) -> str:
    """'Value at 14:37 UTC': the value and the summary both describe the message's moment."""
    return f"Value at {at_text(payload)}"
