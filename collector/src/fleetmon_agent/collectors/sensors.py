"""`temp`: hardware temperatures, where the platform exposes them (Telegraf's `temp`)."""

from __future__ import annotations

from fleetmon_agent.collectors.base import Context, Options
from fleetmon_agent.points import Point


class SensorsCollector:
    """One `temp` point per sensor; nothing at all on hosts without sensors."""

    def __init__(self, ctx: Context, options: Options) -> None:
        self.ctx = ctx

    def collect(self, now: float) -> list[Point]:
        """Points for every temperature sensor psutil can read."""
        read = getattr(self.ctx.ps(), "sensors_temperatures", None)
        if read is None:
            return []
        points: list[Point] = []
        for chip, entries in sorted((read() or {}).items()):
            for i, e in enumerate(entries):
                label = e.label or str(i)
                sensor = f"{chip}_{label}".replace(" ", "_").lower()
                fields = {"temp": float(e.current)}
                if e.high:
                    fields["high"] = float(e.high)
                if e.critical:
                    fields["critical"] = float(e.critical)
                points.append(Point("temp", now, {"sensor": sensor}, dict(fields)))
        return points


def create(ctx: Context, options: Options) -> SensorsCollector:
    """Build the collector."""
    return SensorsCollector(ctx, options)
