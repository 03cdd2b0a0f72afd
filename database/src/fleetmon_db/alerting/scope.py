"""Which hosts a rule covers, and label matching: the worker, the rule preview and silences."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def labels_match(want: Mapping[str, Any], have: Mapping[str, Any]) -> bool:
    """Every wanted label is present with the same value."""
    return all(str(have.get(k)) == str(v) for k, v in want.items())


def hosts_in_scope(
    scope: Mapping[str, Any] | None, hosts: Iterable[tuple[str, Mapping[str, Any] | None]]
) -> list[str] | None:
    """Names a rule's scope (`{"hosts": [...], "labels": {...}}`) covers among `hosts`
    ((name, labels) pairs); None means every host the store knows."""
    listed = list((scope or {}).get("hosts") or [])
    wanted = (scope or {}).get("labels") or {}
    if not listed and not wanted:
        return None
    names = [
        name
        for name, labels in hosts
        if (not listed or name in listed) and (not wanted or labels_match(wanted, labels or {}))
    ]
    if listed and not wanted:
        # Listed hosts count even before they enroll or report.
        names = sorted(set(names) | set(listed))
    return names
