"""Silences: mute notifications for a rule, a host and/or labels between two instants."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetmon_db.alerting.scope import labels_match
from fleetmon_db.models import Silence


def active_silences(session: Session, now: datetime) -> list[Silence]:
    """Silences in force at `now`."""
    stmt = select(Silence).where(Silence.starts_at <= now, Silence.ends_at > now)
    return list(session.scalars(stmt))


def matching_silence(
    silences: Iterable[Silence], rule_id: int, host: str, labels: Mapping[str, Any]
) -> Silence | None:
    """The first silence that covers this alert; every criterion a silence sets must match."""
    for silence in silences:
        if silence.rule_id is not None and silence.rule_id != rule_id:
            continue
        if silence.host and silence.host != host:
            continue
        if silence.labels and not labels_match(silence.labels, labels):
            continue
        return silence
    return None
