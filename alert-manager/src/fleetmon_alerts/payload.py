"""The notification payload: everything a channel renders, frozen when the event happens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fleetmon_alerts.clock import to_ns
from fleetmon_db.models import AlertRule, AlertState
from fleetmon_db.timeseries import Selector, StoreError, TimeSeriesStore

TOP_N = 5


# Points of one collection share its timestamp; an agent that stamps each point itself
# spreads one collection over far less than a collection interval.
SAME_COLLECTION_NS = 1_000_000_000


def top_processes(
    store: TimeSeriesStore, host: str, now: datetime
) -> dict[str, list[dict[str, Any]]]:
    """The host's busiest processes by CPU and by memory, from its newest collection only.

    The latest sample of each process series over the lookback would also list processes
    that exited minutes ago (their last sample is still their latest); only the samples of
    the newest collection that reported the field describe what runs now.
    """
    selectors = [
        Selector("procstat", "cpu_usage", hosts=[host]),
        Selector("procstat", "memory_usage", hosts=[host]),
    ]
    try:
        samples = store.latest_many(selectors, to_ns(now - timedelta(minutes=2)))
    except StoreError:
        return {"cpu": [], "memory": []}
    numeric = [s for s in samples if isinstance(s.value, int | float)]
    newest: dict[str, int] = {}
    for s in numeric:
        newest[s.key.field] = max(newest.get(s.key.field, s.time_ns), s.time_ns)
    by_field: dict[str, list[dict[str, Any]]] = {"cpu_usage": [], "memory_usage": []}
    for s in numeric:
        if s.key.field in by_field and s.time_ns > newest[s.key.field] - SAME_COLLECTION_NS:
            tags = s.key.tag_dict
            by_field[s.key.field].append(
                {
                    "name": tags.get("process_name", "?"),
                    "pid": tags.get("pid", ""),
                    "value": float(s.value),
                }
            )

    def top(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda r: r["value"], reverse=True)[:TOP_N]

    return {"cpu": top(by_field["cpu_usage"]), "memory": top(by_field["memory_usage"])}


def build(
    *,
    rule: AlertRule,
    state: AlertState,
    status: str,
    at: datetime,
    public_url: str,
    processes: dict[str, list[dict[str, Any]]] | None = None,
    repeat: bool = False,
) -> dict[str, Any]:
    """The JSON-able payload stored in the outbox and handed to every channel."""
    return {
        "status": status,
        "repeat": repeat,
        "rule": rule.name,
        "rule_id": rule.id,
        "kind": rule.kind,
        "severity": rule.severity,
        "host": state.host,
        "fingerprint": state.fingerprint,
        "metric": rule.metric,
        "aggregate": rule.aggregate,
        "window_s": rule.window_s,
        "comparison": rule.comparison,
        "threshold": rule.threshold,
        "value": state.value,
        "since": (state.firing_since or at).isoformat(),
        "at": at.isoformat(),
        "ended_at": state.resolved_at.isoformat() if state.resolved_at else None,
        "labels": dict(state.labels or {}),
        "annotations": dict(state.annotations or {}),
        "host_url": f"{public_url}/hosts/{quote(state.host, safe='')}",
        "top_processes": processes or {"cpu": [], "memory": []},
    }
