"""The time-series store contract shared by the InfluxDB and SQL stores."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Protocol, runtime_checkable

FieldValue = float | int | bool | str
NS = 1_000_000_000


class StoreError(RuntimeError):
    """The store rejected a request (bad query, bad data)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or is overloaded; the caller should retry later."""


@dataclass(frozen=True, slots=True)
class Point:
    """One measurement of one host at one instant: tags exclude `host`, which is its own field."""

    host: str
    measurement: str
    time_ns: int
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]


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
class SeriesData:
    """One series' values: (bucket start ns, value or None where the bucket is empty)."""

    key: SeriesKey
    points: list[tuple[int, float | None]]
    tier: str = "raw"


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


@runtime_checkable
class TimeSeriesStore(Protocol):
    """Everything fleetmon asks of a time-series store; both stores pass one shared suite.

    All methods are synchronous and thread-safe: the API calls them from its thread pool.
    Writes are idempotent: writing the same points again leaves stored data unchanged.
    """

    name: str

    def ensure_schema(self) -> None:
        """Create databases, retention policies or tables if missing (idempotent)."""

    def ping(self) -> None:
        """Return if the store answers; raise StoreUnavailable otherwise."""

    def close(self) -> None:
        """Release connections."""

    def write(self, points: Sequence[Point]) -> int:
        """Store points (raw tier); return the number of field values written."""

    def latest(self, host: str, since_ns: int | None = None) -> list[Sample]:
        """Latest value of every series of `host` (written at or after `since_ns`)."""

    def latest_many(self, selectors: Sequence[Selector], since_ns: int) -> list[Sample]:
        """Latest value of every series matching any selector, across hosts, in one round trip."""

    def query_range(self, query: RangeQuery, now_ns: int | None = None) -> list[SeriesData]:
        """Bucketed values per series; the tier is chosen from range and step."""

    def aggregate(
        self, selector: Selector, start_ns: int, end_ns: int, aggregate: Aggregate
    ) -> list[Sample]:
        """One value per matching series over the whole window (raw data); time is `end_ns`."""

    def summary(
        self, selector: Selector, start_ns: int, end_ns: int, now_ns: int | None = None
    ) -> Summary:
        """avg/min/max/p95/p99 over all matching series' samples in the range."""

    def hosts(self) -> list[str]:
        """Every host with stored data."""

    def series(self, host: str) -> list[SeriesKey]:
        """Every series of a host."""

    def delete_host(self, host: str) -> None:
        """Remove every stored point of a host in every tier."""

    def rollup(self, now_ns: int) -> RollupReport:
        """Compute every closed, not yet rolled-up (or backfilled) window of every tier."""

    def enforce_retention(self, now_ns: int) -> None:
        """Delete data older than each tier's retention."""
