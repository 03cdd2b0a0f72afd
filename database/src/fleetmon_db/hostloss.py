"""What was not stored per host, and the host's clock: the vocabulary and arithmetic shared by
the API (which keeps them), the alert worker and the rule preview (which watch them)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from fleetmon_db.alerting.rules import HEARTBEAT_LOOKBACK, Comparison, RuleKind


class DropKind(enum.StrEnum):
    """Whose count a HostDrop row is."""

    # Points the agent dropped, by the agent's reason (its cumulative `agent.dropped`).
    AGENT = "agent"
    # Points the server refused (422/413), by ingest's `Refusal`.
    REFUSED = "refused"
    # Spool files the agent set aside (its cumulative `agent.quarantined_files`).
    QUARANTINE = "quarantine"


# The reason of the QUARANTINE row (the agent reports one total), and of an agent that
# reports only `dropped_points` without reasons (agents before `dropped`).
QUARANTINED_FILES = "files"
UNSPECIFIED = "unspecified"


class ClockSource(enum.StrEnum):
    """How a host's clock offset was measured."""

    # The agent measured it against the X-Fleetmon-Time of the server's answers.
    AGENT = "agent"
    # The server's clock at arrival minus the newest point's time, for senders that do not
    # measure (line protocol): it includes the time the point waited before being sent.
    ARRIVAL = "arrival"


def advance(count: int, reported: int | None, new: int) -> tuple[int, int]:
    """(new count, what it grew by) for an agent's cumulative counter reported as `new`.

    A counter smaller than the last one means the agent's state was reset (new spool,
    reinstall): it counts from zero again, so all of `new` is new.
    """
    if reported is None or new < reported:
        return count + new, new
    return count + new - reported, new - reported


class DropLike(Protocol):
    """A HostDrop row, or the API's not yet flushed view of one."""

    @property
    def kind(self) -> str:
        """DropKind."""
        ...

    @property
    def count(self) -> int:
        """Total known to the server."""
        ...

    @property
    def last_at(self) -> datetime:
        """When the count last grew."""
        ...


def recent_loss(drops: Iterable[DropLike], now: datetime, window_s: int) -> int:
    """Points dropped or refused, over the reasons whose count grew within the window."""
    since = now - timedelta(seconds=window_s)
    return sum(
        d.count for d in drops if d.kind != DropKind.QUARANTINE and d.count and d.last_at >= since
    )


def clock_error_s(
    offset_s: float | None, measured_at: datetime | None, now: datetime
) -> float | None:
    """How far off the host's clock is (absolute seconds), if measured recently enough."""
    if offset_s is None or measured_at is None or now - measured_at > HEARTBEAT_LOOKBACK:
        return None
    return abs(offset_s)


def observe_record(
    kind: str,
    window_s: int,
    comparison: str,
    threshold: float,
    drops: Iterable[DropLike],
    offset_s: float | None,
    measured_at: datetime | None,
    now: datetime,
) -> tuple[bool, float] | None:
    """(condition holds, value) of a data_loss or clock_skew rule for one host; None when the
    host has nothing to say (never dropped anything, clock never measured)."""
    compare = Comparison(comparison).test
    if kind == RuleKind.DATA_LOSS:
        rows = list(drops)
        if not rows:
            return None
        value = float(recent_loss(rows, now, window_s))
        # Only growth within the window counts: an old loss must not keep the alert firing.
        return value > 0 and compare(value, threshold), value
    if kind == RuleKind.CLOCK_SKEW:
        error = clock_error_s(offset_s, measured_at, now)
        if error is None:
            return None
        return compare(error, threshold), error
    raise ValueError(f"not a host-record rule kind: {kind!r}")
