"""The values and errors the time-series contract speaks in (the protocol is in contract.py)."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import NamedTuple

FieldValue = float | int | bool | str
NS = 1_000_000_000


class StoreError(RuntimeError):
    """The store rejected a request (bad query, bad data)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or is overloaded; the caller should retry later."""


class StoreTimeout(StoreUnavailable):
    """The store took the request but did not answer in time (a smaller one may pass)."""


class UnsupportedServer(StoreError):
    """The store's server is a version that cannot serve fleetmon; the message names the
    version and what to do. Not retried: it will not change until the server does."""


class PointsDropped(StoreError):
    """The store answered but did not keep every point: never a success (202 means stored).

    Raised for partial writes (InfluxDB's "partial write", points beyond a retention policy,
    field type conflicts). `dropped` is how many points were not kept when the store says so
    (None when it does not); `reason` is the store's own words, for the operator.
    """

    def __init__(self, reason: str, *, dropped: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.dropped = dropped


class Point(NamedTuple):
    """One measurement of one host at one instant: tags exclude `host`, which is its own field."""

    # A named tuple rather than a frozen dataclass: as immutable, and about twice as cheap
    # to build, which counts when the API makes one per ingested point.

    host: str
    measurement: str
    time_ns: int
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]


# (host, measurement, tags as items, field names): what one line-protocol template covers.
PointShape = tuple[str, str, tuple[tuple[str, str], ...], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class PointBatch:
    """Points in flat form, as the ingest path builds them: cheaper to build and to encode.

    Point i has shape ``shapes[i]`` and time ``times[i]``; ``flat`` holds, point after
    point, its field values in the order of the shape's names and then its time (the order
    of a line-protocol line). Points without fields are not represented.
    """

    shapes: list[PointShape]
    flat: list[FieldValue]
    times: list[int]

    def __len__(self) -> int:
        return len(self.shapes)

    @classmethod
    def of(cls, points: Sequence[Point]) -> PointBatch:
        """The flat form of `points` (points without fields are left out)."""
        shapes: list[PointShape] = []
        flat: list[FieldValue] = []
        times: list[int] = []
        for p in points:
            fields = p.fields
            if not fields:
                continue
            shapes.append((p.host, p.measurement, tuple(p.tags.items()), tuple(fields)))
            flat.extend(fields.values())
            flat.append(p.time_ns)
            times.append(p.time_ns)
        return cls(shapes, flat, times)

    def points(self) -> list[Point]:
        """The points again."""
        out: list[Point] = []
        o = 0
        for (host, measurement, tags, names), t in zip(self.shapes, self.times, strict=True):
            n = len(names)
            out.append(
                Point(
                    host,
                    measurement,
                    t,
                    dict(tags),
                    dict(zip(names, self.flat[o : o + n], strict=True)),
                )
            )
            o += n + 1
        return out

    def chunks(self, size: int) -> Iterator[PointBatch]:
        """Consecutive sub-batches of at most `size` points."""
        o = 0
        for i in range(0, len(self.shapes), size):
            shapes = self.shapes[i : i + size]
            end = o + sum(len(s[3]) for s in shapes) + len(shapes)
            yield PointBatch(shapes, self.flat[o:end], self.times[i : i + size])
            o = end


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """Identity of one stored series: host, measurement, field and the other tags (sorted)."""

    host: str
    measurement: str
    field: str
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def tag_dict(self) -> dict[str, str]:
        """The tags as a dict."""
        return dict(self.tags)


def series_key(host: str, measurement: str, field_name: str, tags: Mapping[str, str]) -> SeriesKey:
    """Build a SeriesKey with canonically sorted tags."""
    return SeriesKey(host, measurement, field_name, tuple(sorted(tags.items())))


@dataclass(frozen=True, slots=True)
class Sample:
    """The value of one series at one instant (latest value, or one window's aggregate)."""

    key: SeriesKey
    time_ns: int
    value: FieldValue


class Aggregate(enum.StrEnum):
    """How samples inside one step are combined."""

    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    LAST = "last"
    SUM = "sum"
    COUNT = "count"
    # Per-second increase of a counter (resets clamp to zero, like non_negative_derivative).
    RATE = "rate"


@dataclass(frozen=True, slots=True)
class Selector:
    """Which series to read: measurement + field, optional hosts and exact tag matches."""

    measurement: str
    field: str
    hosts: Sequence[str] | None = None  # None means every host
    tags: Mapping[str, str] = dataclass_field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RangeQuery:
    """Values of the selected series between start (inclusive) and end (exclusive), per step."""

    selector: Selector
    start_ns: int
    end_ns: int
    step_s: int
    aggregate: Aggregate = Aggregate.MEAN


@dataclass(frozen=True, slots=True)
class TierSpan:
    """The part [start_ns, end_ns) of a range answer that one tier gave."""

    tier: str
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class SeriesData:
    """One series' values: (bucket start ns, value or None where the bucket is empty).

    `tier` is the coarsest tier that answered; `tiers` every tier's part, oldest first.
    """

    key: SeriesKey
    points: list[tuple[int, float | None]]
    tier: str = "raw"
    tiers: tuple[TierSpan, ...] = ()


@dataclass(frozen=True, slots=True)
class Summary:
    """Statistics of one series (or of all selected series together) over a range."""

    count: int
    avg: float | None
    min: float | None
    max: float | None
    p95: float | None
    p99: float | None
    # True when percentiles were estimated from rollups rather than computed from raw data.
    approximate: bool = False


@dataclass(frozen=True, slots=True)
class RollupReport:
    """What one rollup run did, per tier: windows written."""

    windows: Mapping[str, int]
