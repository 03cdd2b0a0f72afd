"""The overview's server-side filter and sort (the web UI's fleet page sends these)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fleetmon_api.fleetview import Order, SortKey, select_rows

T = datetime(2026, 1, 5, tzinfo=UTC)
ROWS: list[dict[str, Any]] = [
    {"name": "web-2", "status": "up", "labels": {"env": "prod"}, "last_seen": T,
     "cpu_percent": 50.0, "net_recv_bps": 10.0},
    {"name": "web-1", "status": "stale", "labels": {"env": "staging"}, "last_seen": T,
     "cpu_percent": 50.0},
    {"name": "db-1", "status": "down", "labels": {"env": "prod", "role": "db"},
     "last_seen": None, "cpu_percent": 90.0, "net_sent_bps": 5.0},
    {"name": "cache", "status": "up", "labels": {}, "last_seen": T},
]  # fmt: skip


def names(rows: list[dict[str, object]]) -> list[str]:
    return [str(r["name"]) for r in rows]


def test_filter_terms_all_match_name_or_label() -> None:
    assert names(select_rows(ROWS, q="web")) == ["web-1", "web-2"]
    assert names(select_rows(ROWS, q="env=prod")) == ["db-1", "web-2"]
    assert names(select_rows(ROWS, q="WEB env=prod")) == ["web-2"]
    assert names(select_rows(ROWS, q="role=d")) == ["db-1"]
    assert names(select_rows(ROWS, status="up")) == ["cache", "web-2"]


def test_sort_missing_values_last_ties_by_name() -> None:
    assert names(select_rows(ROWS, sort=SortKey.CPU, order=Order.DESC)) == [
        "db-1", "web-1", "web-2", "cache"
    ]  # fmt: skip
    assert names(select_rows(ROWS, sort=SortKey.CPU)) == ["web-1", "web-2", "db-1", "cache"]
    assert names(select_rows(ROWS, sort=SortKey.STATUS)) == ["db-1", "web-1", "cache", "web-2"]
    assert names(select_rows(ROWS, sort=SortKey.NET, order=Order.DESC)) == [
        "web-2", "db-1", "cache", "web-1"
    ]  # fmt: skip
    assert names(select_rows(ROWS, sort=SortKey.SEEN))[-1] == "db-1"
