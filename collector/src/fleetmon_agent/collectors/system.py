"""`system`: load averages, CPU and user counts, uptime."""

from __future__ import annotations

from fleetmon_agent.collectors.base import Context, Options
from fleetmon_agent.points import FieldValue, Point


class SystemCollector:
    """Telegraf's `system` measurement."""

    def __init__(self, ctx: Context, options: Options) -> None:
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


def create(ctx: Context, options: Options) -> SystemCollector:
    """Build the collector."""
    return SystemCollector(ctx, options)
