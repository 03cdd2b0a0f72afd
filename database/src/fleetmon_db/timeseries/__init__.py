"""Time-series stores: the contract, the InfluxDB and SQL stores, rollups and the factory."""

from fleetmon_db.timeseries.contract import (
    AsyncWriter,
    Capabilities,
    ThreadOffloadWriter,
    TimeSeriesStore,
)
from fleetmon_db.timeseries.factory import open_store
from fleetmon_db.timeseries.model import (
    NS,
    Aggregate,
    FieldValue,
    Point,
    PointBatch,
    PointsDropped,
    PointShape,
    RangeQuery,
    RollupReport,
    Sample,
    Selector,
    SeriesData,
    SeriesKey,
    StoreError,
    StoreUnavailable,
    Summary,
    TierSpan,
    series_key,
)
from fleetmon_db.timeseries.tiers import DEFAULT_TIERS, Tier, pick_tier

__all__ = [
    "DEFAULT_TIERS",
    "NS",
    "Aggregate",
    "AsyncWriter",
    "Capabilities",
    "FieldValue",
    "Point",
    "PointBatch",
    "PointShape",
    "PointsDropped",
    "RangeQuery",
    "RollupReport",
    "Sample",
    "Selector",
    "SeriesData",
    "SeriesKey",
    "StoreError",
    "StoreUnavailable",
    "Summary",
    "ThreadOffloadWriter",
    "Tier",
    "TierSpan",
    "TimeSeriesStore",
    "open_store",
    "pick_tier",
    "series_key",
]
