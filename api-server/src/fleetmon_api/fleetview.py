"""The fleet overview's server-side view: filter, sort and page the host rows.

One definition of the sort keys and the filter language that the web UI's fleet page uses
(it sends them as query parameters), so 5,000 hosts never reach the browser at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

Row = dict[str, Any]

# Host status as it sorts: the hosts needing attention first.
STATUS_ORDER = {"down": 0, "stale": 1, "unknown": 2, "up": 3}


class SortKey(StrEnum):
    """Columns the overview sorts by."""

    STATUS = "status"
    NAME = "name"
    CPU = "cpu"
    MEM = "mem"
    DISK = "disk"
    LOAD = "load"
    NET = "net"
    SEEN = "seen"


class Order(StrEnum):
    """Sort direction."""

    ASC = "asc"
    DESC = "desc"


def _net(r: Row) -> float | None:
    rx, tx = r.get("net_recv_bps"), r.get("net_sent_bps")
    return None if rx is None and tx is None else (rx or 0.0) + (tx or 0.0)


_GET: dict[SortKey, Callable[[Row], Any]] = {
    SortKey.STATUS: lambda r: STATUS_ORDER.get(r["status"], 2),
    SortKey.NAME: lambda r: r["name"].lower(),
    SortKey.CPU: lambda r: r.get("cpu_percent"),
    SortKey.MEM: lambda r: r.get("mem_percent"),
    SortKey.DISK: lambda r: r.get("disk_percent"),
    SortKey.LOAD: lambda r: r.get("load1"),
    SortKey.NET: _net,
    SortKey.SEEN: lambda r: r["last_seen"].timestamp() if r.get("last_seen") else None,
}


def matches(row: Row, terms: Sequence[str]) -> bool:
    """Every term matches: `k=v` a label k containing v; else the name or a `k=v` label text."""
    name = row["name"].lower()
    labels = [(str(k).lower(), str(v).lower()) for k, v in (row.get("labels") or {}).items()]
    for term in terms:
        key, eq, value = term.partition("=")
        if eq and key:
            if not any(k == key and value in v for k, v in labels):
                return False
        elif term not in name and not any(term in f"{k}={v}" for k, v in labels):
            return False
    return True


def select_rows(
    rows: list[Row],
    *,
    q: str = "",
    status: str | None = None,
    sort: SortKey = SortKey.NAME,
    order: Order = Order.ASC,
) -> list[Row]:
    """The rows matching `q` and `status`, sorted (missing values last in either order; ties
    by name)."""
    terms = q.lower().split()
    shown = [r for r in rows if (status is None or r["status"] == status) and matches(r, terms)]
    get = _GET[sort]
    present = [r for r in shown if get(r) is not None]
    missing = [r for r in shown if get(r) is None]
    present.sort(key=lambda r: r["name"])
    present.sort(key=get, reverse=order is Order.DESC)
    missing.sort(key=lambda r: r["name"])
    return present + missing
