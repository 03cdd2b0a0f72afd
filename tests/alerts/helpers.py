"""Rows and payloads the alert tests share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_db.models import AlertChannel, AlertEvent, AlertNotification


def sample_payload(status: str = "firing", **over: Any) -> dict[str, Any]:
    """A notification payload as the evaluator builds it."""
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).isoformat()
    base: dict[str, Any] = {
        "status": status,
        "repeat": False,
        "rule": "CPU usage high",
        "rule_id": 1,
        "kind": "threshold",
        "severity": "warning",
        "host": "web-1",
        "fingerprint": "f" * 64,
        "metric": "cpu.usage_idle",
        "aggregate": "avg",
        "window_s": 60,
        "comparison": "<",
        "threshold": 20.0,
        "value": 3.5,
        "since": now,
        "at": now,
        "ended_at": now if status == "resolved" else None,
        "labels": {"team": "web"},
        "annotations": {"summary": "CPU above 80 % on web-1"},
        "host_url": "http://fleetmon.test/hosts/web-1",
        "top_processes": {
            "cpu": [{"name": "python3", "pid": "42", "value": 91.0}],
            "memory": [{"name": "postgres", "pid": "7", "value": 30.5}],
        },
    }
    base.update(over)
    return base


def add_channel(
    sessions: sessionmaker[Session], name: str, kind: str, config: dict[str, Any], **kw: Any
) -> int:
    """Insert a channel; return its id."""
    with sessions() as s:
        ch = AlertChannel(name=name, kind=kind, config=config, **kw)
        s.add(ch)
        s.commit()
        return ch.id


def enqueue(sessions: sessionmaker[Session], channel_id: int, payload: dict[str, Any]) -> int:
    """Insert an event and its outbox row for one channel; return the row id."""
    with sessions() as s:
        ev = AlertEvent(
            rule_name=payload["rule"],
            fingerprint=payload["fingerprint"],
            host=payload["host"],
            severity=payload["severity"],
            from_status="pending",
            to_status=payload["status"],
            value=payload["value"],
        )
        s.add(ev)
        s.flush()
        row = AlertNotification(event_id=ev.id, channel_id=channel_id, payload=payload)
        s.add(row)
        s.commit()
        return row.id


def notifications(sessions: sessionmaker[Session]) -> list[AlertNotification]:
    """Every outbox row, oldest first."""
    with sessions() as s:
        return list(s.scalars(select(AlertNotification).order_by(AlertNotification.id)))


def add_rule(sessions: sessionmaker[Session], **kw: Any) -> int:
    """Insert a rule (threshold defaults); return its id."""
    from fleetmon_db.models import AlertRule

    kw.setdefault("name", "rule")
    with sessions() as s:
        rule = AlertRule(**kw)
        s.add(rule)
        s.commit()
        return rule.id


def add_host(
    sessions: sessionmaker[Session],
    name: str,
    labels: dict[str, str] | None = None,
    last_seen: datetime | None = None,
) -> None:
    """Insert a host row as enrollment would."""
    from fleetmon_db.models import Host

    with sessions() as s:
        s.add(Host(name=name, labels=labels or {}, last_seen=last_seen))
        s.commit()


def events(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    """(host, from, to) of every history event, oldest first."""
    from fleetmon_db.models import AlertEvent

    with sessions() as s:
        rows = s.scalars(select(AlertEvent).order_by(AlertEvent.id))
        return [(e.host, e.from_status, e.to_status) for e in rows]
