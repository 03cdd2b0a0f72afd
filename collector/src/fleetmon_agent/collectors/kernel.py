"""`kernel`: context switches, interrupts, forks, boot time (/proc/stat), entropy."""

from __future__ import annotations

import os
from typing import Callable

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import COUNTER, GAUGE, Field, Measurement, Prom

# /proc/stat line -> Telegraf field (the first number of the line).
STAT = {
    "ctxt": "context_switches",
    "intr": "interrupts",
    "processes": "processes_forked",
    "btime": "boot_time",
}
# Not Telegraf fields: pull mode serves them as node_procs_running and node_procs_blocked.
RUNQUEUE = ("procs_running", "procs_blocked")


def _runqueue(key: str) -> Callable[[Point], float | None]:
    def value(p: Point) -> float | None:
        v = p.extra.get(key) if p.extra else None
        return float(v) if isinstance(v, int) else None

    return value


class KernelOptions(CollectorOptions):
    """`collectors.kernel`."""

    interval = every(5.0)


MEASUREMENT = Measurement(
    "kernel",
    "Kernel counters from /proc/stat, and the entropy pool",
    (),
    (
        Field("boot_time", int, GAUGE, "seconds", "boot time, seconds since the epoch",
              prom=Prom("node_boot_time_seconds", "Node boot time, in unixtime.")),
        Field("context_switches", int, COUNTER, "switches", "context switches since boot",
              prom=Prom("node_context_switches_total", "Total number of context switches.")),
        Field("interrupts", int, COUNTER, "interrupts", "interrupts serviced since boot",
              prom=Prom("node_intr_total", "Total number of interrupts serviced.")),
        Field("processes_forked", int, COUNTER, "processes", "forks since boot",
              prom=Prom("node_forks_total", "Total number of forks.")),
        Field("entropy_avail", int, GAUGE, "bits", "entropy available to /dev/random",
              prom=Prom("node_entropy_available_bits", "Bits of available entropy.")),
        # Only where /proc/stat still has a `page` line (kernels before 2.6).
        Field("disk_pages_in", int, COUNTER, "pages", "pages read from disk", when="page"),
        Field("disk_pages_out", int, COUNTER, "pages", "pages written to disk", when="page"),
    ),
    source="telegraf inputs.kernel",
    derived=(
        Prom("node_procs_running", "Number of processes in runnable state.",
             value=_runqueue("procs_running")),
        Prom("node_procs_blocked", "Number of processes blocked waiting for I/O to complete.",
             value=_runqueue("procs_blocked")),
    ),
)  # fmt: skip


class KernelCollector:
    """Telegraf's `kernel` measurement (without KSM and pressure, which need options)."""

    def __init__(self, ctx: Context, options: KernelOptions) -> None:
        self.ctx = ctx
        self.stat = os.path.join(ctx.proc_root, "stat")
        self.entropy = os.path.join(ctx.proc_root, "sys", "kernel", "random", "entropy_avail")

    def collect(self, now: float) -> list[Point]:
        """One `kernel` point."""
        fields: dict[str, FieldValue] = {}
        extra: dict[str, FieldValue] = {}
        with open(self.stat, "rb") as f:
            for line in f:
                key, _, rest = line.partition(b" ")
                name = key.decode()
                if name in STAT:
                    # intr's first number is the total; the per-IRQ counts follow it.
                    fields[STAT[name]] = int(rest.split(None, 1)[0])
                elif name == "page":
                    pages_in, pages_out = rest.split()[:2]
                    fields["disk_pages_in"], fields["disk_pages_out"] = (
                        int(pages_in),
                        int(pages_out),
                    )
                elif name in RUNQUEUE and self.ctx.expose:
                    extra[name] = int(rest)
        try:
            with open(self.entropy, "rb") as f:
                fields["entropy_avail"] = int(f.read())
        except (OSError, ValueError):
            pass
        return [Point("kernel", now, {}, fields, extra or None)]


def create(ctx: Context, options: KernelOptions) -> KernelCollector:
    """Build the collector."""
    return KernelCollector(ctx, options)


SPEC = CollectorSpec(
    "kernel", "context switches, interrupts, forks, entropy", KernelOptions, create,
    (MEASUREMENT,),
)  # fmt: skip
