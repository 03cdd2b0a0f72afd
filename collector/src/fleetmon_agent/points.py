"""The unit of data the agent collects and sends."""

from __future__ import annotations

from typing import Union

FieldValue = Union[float, int, str, bool]


class Point:
    """One measurement at one time: Telegraf-style measurement, tags and fields."""

    __slots__ = ("fields", "measurement", "tags", "time")

    def __init__(
        self,
        measurement: str,
        time: float,
        tags: dict[str, str],
        fields: dict[str, FieldValue],
    ) -> None:
        self.measurement = measurement
        self.time = time
        self.tags = tags
        self.fields = fields

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
