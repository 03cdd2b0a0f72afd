"""Rule semantics shared by evaluation and the defaults: comparisons, aggregates, scope."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fleetmon_db.models import AlertRule, Host
from fleetmon_db.timeseries import Aggregate

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}

# Rule authors say "avg"; the store says "mean".
AGGREGATES: dict[str, Aggregate] = {
    "avg": Aggregate.MEAN,
    "mean": Aggregate.MEAN,
    "max": Aggregate.MAX,
    "min": Aggregate.MIN,
    "last": Aggregate.LAST,
    "rate": Aggregate.RATE,
    "sum": Aggregate.SUM,
    "count": Aggregate.COUNT,
}

SEVERITIES = ("info", "warning", "critical")


def severity_rank(severity: str) -> int:
    """Order of severities: info < warning < critical (unknown counts as info)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def split_metric(metric: str) -> tuple[str, str]:
    """'cpu.usage_idle' -> ('cpu', 'usage_idle'); the field may itself contain dots."""
    measurement, sep, field = metric.partition(".")
    if not sep or not measurement or not field:
        raise ValueError(f"metric {metric!r} must be 'measurement.field'")
    return measurement, field


def labels_match(want: Mapping[str, Any], have: Mapping[str, Any]) -> bool:
    """Every wanted label is present with the same value."""
    return all(str(have.get(k)) == str(v) for k, v in want.items())


def hosts_in_scope(rule: AlertRule, hosts: Iterable[Host]) -> list[str] | None:
    """Host names a rule covers: None means every host the store knows."""
    scope = rule.scope or {}
    listed = scope.get("hosts") or []
    wanted_labels = scope.get("labels") or {}
    if not listed and not wanted_labels:
        return None
    names = []
    for host in hosts:
        if listed and host.name not in listed:
            continue
        if wanted_labels and not labels_match(wanted_labels, host.labels or {}):
            continue
        names.append(host.name)
    if listed and not wanted_labels:
        # Listed hosts count even before they enroll or report.
        names = sorted(set(names) | set(listed))
    return names
