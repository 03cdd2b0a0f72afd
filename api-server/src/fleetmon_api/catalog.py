"""What the query layer knows about metrics: categories and which fields are counters."""

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

# Monotonic counters (Telegraf semantics): history shows them as per-second rates by default.
COUNTERS: dict[str, frozenset[str]] = {
    "net": frozenset(
        {"bytes_sent", "bytes_recv", "packets_sent", "packets_recv", "err_in", "err_out",
         "drop_in", "drop_out"}
    ),
    "diskio": frozenset(
        {"reads", "writes", "read_bytes", "write_bytes", "read_time", "write_time", "io_time",
         "weighted_io_time", "merged_reads", "merged_writes"}
    ),
    "kernel": frozenset({"context_switches", "interrupts", "processes_forked", "boot_time"}),
    "procstat": frozenset({"read_bytes", "write_bytes", "cpu_time_user", "cpu_time_system"}),
    "fleetmon_agent": frozenset({"send_errors", "sent_points", "sent_batches"}),
}  # fmt: skip


# Loopback interfaces: traffic that never leaves the host, left out of fleet-level network
# rates (Linux `lo`; `lo0` on macOS and the BSDs, which the agent does not ignore by default).
LOOPBACK_INTERFACES = frozenset({"lo", "lo0"})


def is_counter(measurement: str, field: str) -> bool:
    """True for fields that only grow (rates make sense, raw values do not)."""
    return field in COUNTERS.get(measurement, frozenset())
