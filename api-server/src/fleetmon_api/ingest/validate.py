"""Turn validated wire dicts into store Points, enforcing fleetmon's limits.

Rule for partly bad batches: the whole batch is rejected (422) and the message names the
first offending point by index; nothing of it is stored. Agents never produce bad points,
so a bad point means a bug or an attacker, and all-or-nothing keeps retries idempotent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from fleetmon_api.errors import ApiError
from fleetmon_api.ingest.reasons import Refusal
from fleetmon_api.ingest.wire import MAX_STRING_VALUE
from fleetmon_api.settings import Settings
from fleetmon_db.metric import NAME_RE
from fleetmon_db.timeseries import NS, FieldValue, Point

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_INT64 = 2**63
# Keys InfluxDB refuses: `time` (1.x and 2.x), `_field` and `_measurement` (2.x's data model).
_RESERVED_KEYS = frozenset({"time", "_field", "_measurement"})


class RawPoint(Protocol):
    """A point as a wire decoder produced it (wire.WirePoint or wire.PointIn)."""

    @property
    def measurement(self) -> str:
        """Measurement name."""
        ...

    @property
    def time(self) -> float | int:
        """Epoch seconds."""
        ...

    @property
    def tags(self) -> Mapping[str, str]:
        """Tags as sent."""
        ...

    @property
    def fields(self) -> Mapping[str, FieldValue]:
        """Fields as sent."""
        ...


@dataclass(frozen=True, slots=True)
class Limits:
    """The ingest limits of one process (copied from Settings for cheap attribute access)."""

    max_points: int
    max_fields: int
    max_tags: int
    max_key: int
    max_tag_value: int
    max_past_ns: int
    max_future_ns: int

    @classmethod
    def from_settings(cls, s: Settings, raw_retention_s: int | None = None) -> Limits:
        """Limits from settings, the accepted past bounded by what the raw tier keeps."""
        return cls(
            s.max_points,
            s.max_fields_per_point,
            s.max_tags_per_point,
            s.max_key_length,
            s.max_tag_value_length,
            accepted_past_s(s.max_past_s, raw_retention_s, s.retention_margin_s) * NS,
            s.max_future_s * NS,
        )


def accepted_past_s(max_past_s: int, raw_retention_s: int | None, margin_s: int) -> int:
    """How old a point ingest accepts: the one definition of the window's past edge.

    A point is written to the raw tier, so one older than that tier keeps would be dropped
    by the store (InfluxDB answers "points beyond retention policy") or deleted at the next
    retention run: it is refused up front instead. The margin covers the time a request
    spends in flight and the clocks of the API and the store disagreeing.
    """
    if raw_retention_s is None:
        return max_past_s
    return max(60, min(max_past_s, raw_retention_s - margin_s))


class BadPoint(ApiError):
    """422 naming the point (by index) and what is wrong with it."""

    def __init__(self, index: int | str, why: str, reason: Refusal = Refusal.INVALID) -> None:
        where = f"points[{index}]" if isinstance(index, int) else index
        super().__init__(422, f"{where}: {why}; the whole batch was rejected", reason=reason)
        self.why = why


class Validator:
    """Checks names, values and timestamps; caches names already found valid."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._good_names: set[str] = set()
        self._good_influx_names: set[str] = set()
        self._good_values: set[str] = set()

    def name(self, value: str, what: str, index: int | str) -> None:
        """Check a measurement, tag key or field key."""
        if value in self._good_names:
            return
        if len(value) > self.limits.max_key:
            raise BadPoint(index, f"{what} {value[:40]!r}... longer than {self.limits.max_key}")
        if not NAME_RE.fullmatch(value):
            raise BadPoint(
                index,
                f"{what} {value[:64]!r} must start with a letter or '_' and contain only "
                "letters, digits and _ . - : /",
            )
        if len(self._good_names) > 100_000:
            self._good_names.clear()
        self._good_names.add(value)

    def influx_name(self, value: str, what: str, index: int | str) -> None:
        """Check a name from line protocol: any name InfluxDB accepts (spaces, commas, any
        script) within the length limit, without control characters or InfluxDB's reserved
        keys. The stores escape or bind every name, so none needs fleetmon's grammar."""
        if value in self._good_influx_names:
            return
        if len(value) > self.limits.max_key:
            raise BadPoint(index, f"{what} {value[:40]!r}... longer than {self.limits.max_key}")
        if _CONTROL_RE.search(value):
            raise BadPoint(index, f"{what} {value[:64]!r} contains a control character")
        if what != "measurement" and value in _RESERVED_KEYS:
            raise BadPoint(index, f"{what} {value!r} is reserved by InfluxDB")
        if len(self._good_influx_names) > 100_000:
            self._good_influx_names.clear()
        self._good_influx_names.add(value)

    def tag_value(self, key: str, value: str, index: int | str) -> None:
        """Check a tag value: bounded length, no control characters."""
        if value in self._good_values:
            return
        if len(value) > self.limits.max_tag_value:
            raise BadPoint(index, f"tag {key!r} value longer than {self.limits.max_tag_value}")
        if _CONTROL_RE.search(value):
            raise BadPoint(index, f"tag {key!r} value contains a control character")
        if len(self._good_values) > 100_000:
            self._good_values.clear()
        self._good_values.add(value)

    def field_value(self, key: str, value: FieldValue, index: int | str) -> None:
        """Check a field value: finite numbers, int64 range, bounded strings."""
        t = type(value)
        if t is float:
            if not math.isfinite(value):  # type: ignore[arg-type]
                raise BadPoint(index, f"field {key!r} is not a finite number")
        elif t is int:
            if not -_INT64 <= value < _INT64:  # type: ignore[operator]
                raise BadPoint(index, f"field {key!r} is outside the 64-bit integer range")
        elif t is str and len(value) > MAX_STRING_VALUE:  # type: ignore[arg-type]
            raise BadPoint(index, f"field {key!r} string longer than {MAX_STRING_VALUE}")

    def time_ns(self, seconds: float | int, now_ns: int, index: int | str) -> int:
        """Epoch seconds to ns, within [now - max_past, now + max_future]."""
        scaled = seconds * NS
        if type(scaled) is float and not math.isfinite(scaled):
            raise BadPoint(index, f"time {seconds} is not a representable time")
        t = int(scaled)
        self.check_time(t, now_ns, index, seconds)
        return t

    def outside_window(self, times_ns: Iterable[float | int], now_ns: int) -> int:
        """How many of the times (ns) are outside the accepted window (the error path's count)."""
        lo, hi = now_ns - self.limits.max_past_ns, now_ns + self.limits.max_future_ns
        return sum(1 for t in times_ns if not lo <= t <= hi)

    def check_time(self, t_ns: int, now_ns: int, index: int | str, shown: object) -> None:
        """Refuse a time outside [now - max_past, now + max_future] (the accepted window).

        `shown` is the time as the client sent it, for the message.
        """
        lim = self.limits
        if t_ns < now_ns - lim.max_past_ns:
            age = (now_ns - t_ns) // NS
            raise BadPoint(
                index,
                f"time {shown} is {age}s old, older than the {lim.max_past_ns // NS}s the raw "
                "tier can still keep; it can never be stored",
                Refusal.TOO_OLD,
            )
        if t_ns > now_ns + lim.max_future_ns:
            raise BadPoint(
                index,
                f"time {shown} is more than {lim.max_future_ns // NS}s ahead of the server's clock",
                Refusal.IN_FUTURE,
            )

    def point(
        self,
        index: int | str,
        host: str,
        measurement: str,
        time_ns: int,
        tags: Mapping[str, str],
        fields: Mapping[str, FieldValue],
        influx_names: bool = False,
    ) -> Point:
        """Check one point's names and values; the `host` tag is dropped (the key decides).

        `influx_names`: names as InfluxDB accepts them (line protocol) rather than fleetmon's
        grammar (the agent's JSON batches).
        """
        lim = self.limits
        name = self.influx_name if influx_names else self.name
        name(measurement, "measurement", index)
        if len(tags) > lim.max_tags:
            raise BadPoint(index, f"{len(tags)} tags exceed the limit of {lim.max_tags}")
        if not fields:
            raise BadPoint(index, "a point needs at least one field")
        if len(fields) > lim.max_fields:
            raise BadPoint(index, f"{len(fields)} fields exceed the limit of {lim.max_fields}")
        clean_tags = tags
        for k, v in tags.items():
            name(k, "tag key", index)
            self.tag_value(k, v, index)
        if "host" in tags:
            clean_tags = {k: v for k, v in tags.items() if k != "host"}
        for fk, fv in fields.items():
            name(fk, "field key", index)
            self.field_value(fk, fv, index)
        return Point(host, measurement, time_ns, clean_tags, fields)

    def points(self, host: str, raw: Sequence[RawPoint], now_ns: int) -> list[Point]:
        """Decoded points to store Points, the first bad point raising BadPoint.

        The path for batches `fastpath.FastCompiler` does not vouch for; most never get here.
        """
        return [
            self.point(i, host, p.measurement, self.time_ns(p.time, now_ns, i), p.tags, p.fields)
            for i, p in enumerate(raw)
        ]
