"""The InfluxDB store (v1-compatible HTTP API), split by job; `InfluxStore` wires the parts."""

from fleetmon_db.timeseries.influx.store import InfluxStore

__all__ = ["InfluxStore"]
