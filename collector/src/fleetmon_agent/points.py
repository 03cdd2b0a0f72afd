"""The unit of data the agent collects and sends."""

from __future__ import annotations

from typing import Union

FieldValue = Union[float, int, str, bool]


class Point:
    """One measurement at one time: Telegraf-style measurement, tags and fields.

    `extra` holds values only pull mode serves (e.g. cumulative CPU seconds, a filesystem's
    full device path); it is filled only when the exporter is on and never sent."""

    __slots__ = ("extra", "fields", "measurement", "tags", "time")

    def __init__(
        self,
        measurement: str,
        time: float,
        tags: dict[str, str],
        fields: dict[str, FieldValue],
        extra: dict[str, FieldValue] | None = None,
    ) -> None:
        self.measurement = measurement
        self.time = time
        self.tags = tags
        self.fields = fields
        self.extra = extra

    def to_wire(self) -> dict[str, object]:
        """The point as the wire contract's JSON object."""
        return {
            "measurement": self.measurement,
            "time": self.time,
            "tags": self.tags,
            "fields": self.fields,
        }

    def __repr__(self) -> str:
        return f"Point({self.measurement!r}, {self.time!r}, {self.tags!r}, {self.fields!r})"
