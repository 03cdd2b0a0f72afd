"""`system`: load averages, CPU and user counts, uptime."""

from __future__ import annotations

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import GAUGE, Field, Measurement


class SystemOptions(CollectorOptions):
    """`collectors.system`."""

    interval = every(5.0)


MEASUREMENT = Measurement(
    "system",
    "Load, CPUs, users, uptime",
    (),
    (
        Field("load1", float, GAUGE, "", "1-minute load average"),
        Field("load5", float, GAUGE, "", "5-minute load average"),
        Field("load15", float, GAUGE, "", "15-minute load average"),
        Field("n_cpus", int, GAUGE, "", "logical CPUs"),
        Field("n_users", int, GAUGE, "", "logged-in user sessions"),
        Field("uptime", int, GAUGE, "seconds", "time since boot"),
    ),
    source="telegraf inputs.system",
)


class SystemCollector:
    """Telegraf's `system` measurement."""

    def __init__(self, ctx: Context, options: SystemOptions) -> None:
        self.ctx = ctx

    def collect(self, now: float) -> list[Point]:
        """One `system` point."""
        ps = self.ctx.ps()
        load1, load5, load15 = ps.getloadavg()
        try:
            n_users = len(ps.users())
        except OSError:  # no utmp in containers
            n_users = 0
        fields: dict[str, FieldValue] = {
            "load1": float(load1),
            "load5": float(load5),
            "load15": float(load15),
            "n_cpus": int(ps.cpu_count() or 0),
            "n_users": n_users,
            "uptime": int(now - ps.boot_time()),
        }
        return [Point("system", now, {}, fields)]


def create(ctx: Context, options: SystemOptions) -> SystemCollector:
    """Build the collector."""
    return SystemCollector(ctx, options)


SPEC = CollectorSpec("system", "load, CPUs, users, uptime", SystemOptions, create, (MEASUREMENT,))
