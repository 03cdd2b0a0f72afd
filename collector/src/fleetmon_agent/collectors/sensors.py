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
    (Tag("sensor", "<chip>_<label> (label lower case, spaces as _), or <chip> unlabelled"),),
    (
        Field("temp", float, GAUGE, "celsius", "current temperature"),
        # fleetmon's own: Telegraf has no thresholds in its default (v2) format
        Field("high", float, GAUGE, "celsius", "the chip's high threshold, where it has one"),
        Field("critical", float, GAUGE, "celsius", "the chip's critical threshold, where set"),
    ),
    source="telegraf inputs.temp",
)


def sensor_name(chip: str, label: str) -> str:
    """Telegraf's (v2) sensor tag: the hwmon name, then the label lower case, spaces as _."""
    return f"{chip}_{label.strip().lower().replace(' ', '_')}" if label.strip() else chip


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
            for e in entries:
                sensor = sensor_name(chip, e.label)
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
