"""Time-series stores: the contract, the InfluxDB and SQL stores, and the factory."""

from fleetmon_db.timeseries.base import (
    NS,
    Aggregate,
    FieldValue,
    Point,
    PointBatch,
    RangeQuery,
    RollupReport,
    Sample,
    Selector,
    SeriesData,
    SeriesKey,
    StoreError,
    StoreUnavailable,
    Summary,
    TimeSeriesStore,
    series_key,
)
from fleetmon_db.timeseries.factory import open_store
from fleetmon_db.timeseries.tiers import DEFAULT_TIERS, Tier, pick_tier

__all__ = [
    "DEFAULT_TIERS",
    "NS",
    "Aggregate",
    "FieldValue",
    "Point",
    "PointBatch",
    "RangeQuery",
    "RollupReport",
    "Sample",
    "Selector",
    "SeriesData",
    "SeriesKey",
    "StoreError",
    "StoreUnavailable",
    "Summary",
    "Tier",
    "TimeSeriesStore",
    "open_store",
    "pick_tier",
    "series_key",
]
