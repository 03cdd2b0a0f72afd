"""The SQL store (SQLite, PostgreSQL), split by job; `SqlStore` wires the parts."""

from fleetmon_db.timeseries.sql.store import SqlStore

__all__ = ["SqlStore"]
