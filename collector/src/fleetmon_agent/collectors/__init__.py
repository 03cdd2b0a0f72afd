"""The collectors, registered in one explicit list (never discovered from the file system).

Each collector module declares itself (`SPEC`): its options, its measurements with their
tags and fields, and its factory. `measurements()` is the whole schema table built from
this list; the server imports it (counters, field types) through fleetmon_db.metric_schema.
"""

from __future__ import annotations

from typing import Any

from fleetmon_agent.collectors import (
    agent,
    cpu,
    disk,
    diskio,
    kernel,
    mem,
    net,
    netstat,
    processes,
    procstat,
    sensors,
    swap,
    system,
)
from fleetmon_agent.collectors.base import (
    Collector,
    CollectorOptions,
    CollectorSpec,
    Context,
)
from fleetmon_agent.schema import Measurement

REGISTRY: list[CollectorSpec[Any]] = [
    cpu.SPEC,
    system.SPEC,
    mem.SPEC,
    swap.SPEC,
    kernel.SPEC,
    disk.SPEC,
    diskio.SPEC,
    net.SPEC,
    netstat.SPEC,
    processes.SPEC,
    procstat.SPEC,
    sensors.SPEC,
    agent.SPEC,
]

BY_NAME: dict[str, CollectorSpec[Any]] = {spec.name: spec for spec in REGISTRY}


def measurements() -> dict[str, Measurement]:
    """Every measurement the agent emits, by name, in registry order."""
    out: dict[str, Measurement] = {}
    for spec in REGISTRY:
        for m in spec.measurements:
            if m.name in out:
                raise ValueError(f"measurement {m.name} is declared by two collectors")
            out[m.name] = m
    return out


__all__ = [
    "BY_NAME",
    "REGISTRY",
    "Collector",
    "CollectorOptions",
    "CollectorSpec",
    "Context",
    "measurements",
]
