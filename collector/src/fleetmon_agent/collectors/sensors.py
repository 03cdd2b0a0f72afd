"""`temp`: hardware temperatures, where the platform exposes them (Telegraf's `temp`)."""

from __future__ import annotations

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.points import Point
from fleetmon_agent.schema import GAUGE, Field, Measurement, Tag


class SensorsOptions(CollectorOptions):
    """`collectors.sensors`."""

    interval = every(30.0)


MEASUREMENT = Measurement(
    "temp",
    "Hardware temperatures",
    (Tag("sensor", "<chip>_<label>, lower case, spaces as underscores"),),
    (
        Field("temp", float, GAUGE, "celsius", "current temperature"),
        Field("high", float, GAUGE, "celsius", "the chip's high threshold, where it has one"),
        Field("critical", float, GAUGE, "celsius", "the chip's critical threshold, where set"),
    ),
    source="telegraf inputs.temp",
)


class SensorsCollector:
    """One `temp` point per sensor; nothing at all on hosts without sensors."""

    def __init__(self, ctx: Context, options: SensorsOptions) -> None:
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


def create(ctx: Context, options: SensorsOptions) -> SensorsCollector:
    """Build the collector."""
    return SensorsCollector(ctx, options)


SPEC = CollectorSpec("sensors", "hardware temperatures", SensorsOptions, create, (MEASUREMENT,))
