"""`system`: load averages, CPU and user counts, uptime (Telegraf's default `legacy` set)."""

from __future__ import annotations

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import GAUGE, INFO, Field, Measurement, Prom


class SystemOptions(CollectorOptions):
    """`collectors.system`."""

    interval = every(5.0)


MEASUREMENT = Measurement(
    "system",
    "Load, CPUs, users, uptime",
    (),
    (
        Field("load1", float, GAUGE, "", "1-minute load average",
              prom=Prom("node_load1", "1m load average.")),
        Field("load5", float, GAUGE, "", "5-minute load average",
              prom=Prom("node_load5", "5m load average.")),
        Field("load15", float, GAUGE, "", "15-minute load average",
              prom=Prom("node_load15", "15m load average.")),
        Field("n_cpus", int, GAUGE, "", "logical CPUs"),
        Field("n_physical_cpus", int, GAUGE, "", "physical CPU cores"),
        Field("n_users", int, GAUGE, "", "logged-in user sessions"),
        Field("n_unique_users", int, GAUGE, "", "distinct logged-in user names"),
        Field("uptime", int, GAUGE, "seconds", "time since boot"),
        Field("uptime_format", str, INFO, "", 'uptime as "3 days, 4:05"'),
    ),
    source="telegraf inputs.system",
)  # fmt: skip


def format_uptime(seconds: int) -> str:
    """Telegraf's uptime_format: "14 days, 11:07", "1 day,  0:05", " 3:09"."""
    days, rest = divmod(max(seconds, 0), 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    prefix = f"{days} day{'s' if days > 1 else ''}, " if days else ""
    return f"{prefix}{hours:2d}:{minutes:02d}"


class SystemCollector:
    """Telegraf's `system` measurement."""

    def __init__(self, ctx: Context, options: SystemOptions) -> None:
        self.ctx = ctx
        self._physical: int | None = None

    def collect(self, now: float) -> list[Point]:
        """One `system` point."""
        ps = self.ctx.ps()
        load1, load5, load15 = ps.getloadavg()
        try:
            users = ps.users()
        except OSError:  # no utmp in containers
            users = []
        if self._physical is None:  # walks /sys per CPU: once is enough
            self._physical = int(ps.cpu_count(logical=False) or 0)
        uptime = int(now - ps.boot_time())
        fields: dict[str, FieldValue] = {
            "load1": float(load1),
            "load5": float(load5),
            "load15": float(load15),
            "n_cpus": int(ps.cpu_count() or 0),
            "n_physical_cpus": self._physical,
            "n_users": len(users),
            "n_unique_users": len({u.name for u in users}),
            "uptime": uptime,
            "uptime_format": format_uptime(uptime),
        }
        return [Point("system", now, {}, fields)]


def create(ctx: Context, options: SystemOptions) -> SystemCollector:
    """Build the collector."""
    return SystemCollector(ctx, options)


SPEC = CollectorSpec("system", "load, CPUs, users, uptime", SystemOptions, create, (MEASUREMENT,))
