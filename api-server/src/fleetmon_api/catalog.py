"""What the query layer knows about metrics: categories (counters: fleetmon_db.metric_schema)."""

from __future__ import annotations

import enum


class Category(enum.StrEnum):
    """Per-category query endpoints."""

    CPU = "cpu"
    MEMORY = "memory"
    DISK = "disk"
    NETWORK = "network"
    PROCESSES = "processes"


CATEGORY_MEASUREMENTS: dict[Category, tuple[str, ...]] = {
    Category.CPU: ("cpu", "system"),
    Category.MEMORY: ("mem", "swap"),
    Category.DISK: ("disk", "diskio"),
    Category.NETWORK: ("net", "netstat"),
    Category.PROCESSES: ("processes", "procstat"),
}

# Loopback interfaces: traffic that never leaves the host, left out of fleet-level network
# rates (Linux `lo`; `lo0` on macOS and the BSDs, which the agent does not ignore by default).
LOOPBACK_INTERFACES = frozenset({"lo", "lo0"})
