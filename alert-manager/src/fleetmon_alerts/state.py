"""The alert state machine, pure: inactive -> pending -> firing -> resolved, with `for` and
`keep_firing_for`. No I/O and no clock of its own, so every edge is testable to the second."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from fleetmon_db.alerting import AlertStatus


@dataclass(frozen=True)
class Snapshot:
    """What the machine remembers of one alert between evaluations."""

    status: AlertStatus = AlertStatus.INACTIVE
    pending_since: datetime | None = None
    firing_since: datetime | None = None
    resolved_at: datetime | None = None
    keep_firing_until: datetime | None = None


@dataclass(frozen=True)
class Transition:
    """One change of status, to be written to history."""

    from_status: AlertStatus
    to_status: AlertStatus


def step(
    snap: Snapshot, active: bool, now: datetime, for_s: float, keep_firing_for_s: float
) -> tuple[Snapshot, Transition | None]:
    """Advance one evaluation: `active` says whether the rule's condition holds right now."""
    status = snap.status
    if status in (AlertStatus.INACTIVE, AlertStatus.RESOLVED):
        if not active:
            return snap, None
        if for_s <= 0:
            fired = Snapshot(AlertStatus.FIRING, pending_since=now, firing_since=now)
            return fired, Transition(status, AlertStatus.FIRING)
        return Snapshot(AlertStatus.PENDING, pending_since=now), Transition(
            status, AlertStatus.PENDING
        )
    if status == AlertStatus.PENDING:
        if not active:
            return Snapshot(AlertStatus.INACTIVE), Transition(status, AlertStatus.INACTIVE)
        since = snap.pending_since or now
        if now - since >= timedelta(seconds=for_s):
            return replace(snap, status=AlertStatus.FIRING, firing_since=now), Transition(
                status, AlertStatus.FIRING
            )
        return snap, None
    # FIRING
    if active:
        return (replace(snap, keep_firing_until=None) if snap.keep_firing_until else snap), None
    if keep_firing_for_s > 0:
        # Anti-flap: the condition must stay false for keep_firing_for before we resolve.
        if snap.keep_firing_until is None:
            return replace(snap, keep_firing_until=now + timedelta(seconds=keep_firing_for_s)), None
        if now < snap.keep_firing_until:
            return snap, None
    resolved = Snapshot(AlertStatus.RESOLVED, firing_since=snap.firing_since, resolved_at=now)
    return resolved, Transition(status, AlertStatus.RESOLVED)
