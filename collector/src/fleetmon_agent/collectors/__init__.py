"""The collectors, registered in one explicit list (never discovered from the file system)."""

from __future__ import annotations

from fleetmon_agent.collectors import (
    agent,
    cpu,
    disk,
    diskio,
    mem,
    net,
    netstat,
    processes,
    procstat,
    sensors,
    swap,
    system,
)
from fleetmon_agent.collectors.base import Collector, CollectorSpec, Context

REGISTRY: list[CollectorSpec] = [
    CollectorSpec("cpu", 5.0, cpu.create, {"percpu": True, "totalcpu": True}),
    CollectorSpec("system", 5.0, system.create),
    CollectorSpec("mem", 5.0, mem.create),
    CollectorSpec("swap", 5.0, swap.create),
    CollectorSpec(
        "disk",
        30.0,
        disk.create,
        {"ignore_fs": disk.DEFAULT_IGNORE_FS, "mount_points": [], "include_duplicates": False},
    ),
    CollectorSpec(
        "diskio",
        5.0,
        diskio.create,
        {"devices": [], "ignore_devices": diskio.DEFAULT_IGNORE_DEVICES},
    ),
    CollectorSpec("net", 5.0, net.create, {"interfaces": [], "ignore_interfaces": ["lo"]}),
    # /proc/net/tcp walks the whole socket hash table (~10 ms here): every 30 s is plenty.
    CollectorSpec("netstat", 30.0, netstat.create),
    CollectorSpec("processes", 15.0, processes.create, heavy=True),
    CollectorSpec("procstat", 15.0, procstat.create, {"top_n": 5, "cmdline_max": 200}, heavy=True),
    CollectorSpec("sensors", 30.0, sensors.create),
    CollectorSpec("agent", 15.0, agent.create),
]

BY_NAME: dict[str, CollectorSpec] = {spec.name: spec for spec in REGISTRY}

__all__ = ["BY_NAME", "REGISTRY", "Collector", "CollectorSpec", "Context"]
