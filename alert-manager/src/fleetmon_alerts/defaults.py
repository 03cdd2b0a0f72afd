"""Default rules (editable, `builtin=True`) and the embedded log channel, installed once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleetmon_db.alerting import RuleKind
from fleetmon_db.models import AlertChannel, AlertRule

_CPU = {"metric": "cpu.usage_active", "tags": {"cpu": "cpu-total"}, "aggregate": "avg"}

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "CPU usage high",
        **_CPU,
        "window_s": 60,
        "comparison": ">",
        "threshold": 80.0,
        "for_s": 300,
        "keep_firing_for_s": 60,
        "severity": "warning",
        "annotations": {"summary": "CPU $value % busy on $host for 5 min (> $threshold %)"},
    },
    {
        "name": "CPU usage critical",
        **_CPU,
        "window_s": 60,
        "comparison": ">",
        "threshold": 95.0,
        "for_s": 60,
        "keep_firing_for_s": 60,
        "severity": "critical",
        "annotations": {"summary": "CPU $value % busy on $host for 1 min (> $threshold %)"},
    },
    {
        "name": "Memory usage high",
        "metric": "mem.used_percent",
        "aggregate": "avg",
        "window_s": 60,
        "comparison": ">",
        "threshold": 85.0,
        "for_s": 120,
        "severity": "warning",
        "annotations": {"summary": "Memory $value % used on $host (> $threshold %)"},
    },
    {
        "name": "Memory usage critical",
        "metric": "mem.used_percent",
        "aggregate": "avg",
        "window_s": 60,
        "comparison": ">",
        "threshold": 95.0,
        "for_s": 60,
        "severity": "critical",
        "annotations": {"summary": "Memory $value % used on $host (> $threshold %)"},
    },
    {
        "name": "Disk usage high",
        "metric": "disk.used_percent",
        "aggregate": "last",
        "window_s": 300,
        "comparison": ">",
        "threshold": 80.0,
        "for_s": 60,
        "severity": "warning",
        "annotations": {"summary": "A filesystem on $host is $value % full (> $threshold %)"},
    },
    {
        "name": "Disk usage critical",
        "metric": "disk.used_percent",
        "aggregate": "last",
        "window_s": 300,
        "comparison": ">",
        "threshold": 90.0,
        "for_s": 60,
        "severity": "critical",
        "annotations": {"summary": "A filesystem on $host is $value % full (> $threshold %)"},
    },
    {
        "name": "Host down",
        "kind": RuleKind.HOST_DOWN.value,
        "metric": "",
        "window_s": 120,
        "comparison": ">=",
        "threshold": 120.0,
        "for_s": 0,
        "severity": "critical",
        "annotations": {"summary": "No data from $host for $value s"},
    },
    {
        "name": "Agent spool growing",
        "kind": RuleKind.AGENT_HEALTH.value,
        "metric": "fleetmon_agent.spool_bytes",
        "aggregate": "rate",
        "window_s": 600,
        "comparison": ">",
        "threshold": 0.0,
        "for_s": 600,
        "severity": "warning",
        "annotations": {"summary": "The agent on $host cannot deliver: its spool keeps growing"},
    },
    {
        # Everything a host lost, whoever counted it: the agent's drops (spool full, too old,
        # refused batches) and what this server refused. Replaces "Agent dropping points",
        # which saw only the agent's own total (the migration to 0004 adds this rule to
        # installations that have that one and leaves theirs as it is).
        "name": "Host losing data",
        "kind": RuleKind.DATA_LOSS.value,
        "metric": "",
        "window_s": 600,
        "comparison": ">",
        "threshold": 0.0,
        "for_s": 0,
        "keep_firing_for_s": 600,
        "severity": "warning",
        "annotations": {
            "summary": "$host lost data: $value points dropped by its agent or refused by "
            "the server (counts that grew in the last 10 min; see the host page)"
        },
    },
    {
        "name": "Host clock off",
        "kind": RuleKind.CLOCK_SKEW.value,
        "metric": "",
        "window_s": 600,
        "comparison": ">",
        "threshold": 30.0,
        "for_s": 120,
        "severity": "warning",
        "annotations": {"summary": "The clock of $host is off by $value s (> $threshold s)"},
    },
]


def install(session: Session, embedded: bool) -> list[str]:
    """Add the default rules on first start (no builtin rule yet) and, embedded, a log channel."""
    added: list[str] = []
    if session.scalar(select(AlertRule.id).where(AlertRule.builtin.is_(True)).limit(1)) is None:
        existing = set(session.scalars(select(AlertRule.name)))
        for spec in DEFAULT_RULES:
            if spec["name"] not in existing:
                session.add(AlertRule(builtin=True, **spec))
                added.append(spec["name"])
    if embedded and session.scalar(select(AlertChannel.id).limit(1)) is None:
        session.add(AlertChannel(name="log", kind="log", config={}, min_severity="info"))
        added.append("channel:log")
    try:
        session.commit()
    except IntegrityError:
        # Another worker starting at the same moment installed them first.
        session.rollback()
        return []
    return added
