"""InfluxDB store over the v1-compatible HTTP API (/write, /query): 1.x, 2.7 and 3.7+.

Layout: one database; each tier is a retention policy named after the tier (raw is the
default RP; on 2.x a bucket `<db>/<tier>`, on 3.x a database `<db>/<tier>`); rollup fields
and bookkeeping as rollup.py describes. This class wires the parts, each with one job:
version (the probe and the capability set), client (every InfluxQL statement), write,
read, summary, retention, purge and the rollup backend.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from fleetmon_db.timeseries.contract import AsyncWriter, Capabilities, TimeSeriesStore
from fleetmon_db.timeseries.groupcommit import GroupCommitWriter
from fleetmon_db.timeseries.influx.client import InfluxClient, auth_headers
from fleetmon_db.timeseries.influx.purge import delete_from_buckets, drop_series
from fleetmon_db.timeseries.influx.read import InfluxReads
from fleetmon_db.timeseries.influx.retention import (
    check_buckets,
    configure_databases,
    create_retention_policies,
    drop_expired_shards,
)
from fleetmon_db.timeseries.influx.rollup import InfluxRollupBackend
from fleetmon_db.timeseries.influx.summary import InfluxSummaries
from fleetmon_db.timeseries.influx.version import InfluxFeatures, features
from fleetmon_db.timeseries.influx.write import AsyncRawWriter, LineWriter, RawWriter
from fleetmon_db.timeseries.model import (
    NS,
    Aggregate,
    Point,
    PointBatch,
    RangeQuery,
    Sample,
    Selector,
    SeriesData,
    SeriesKey,
    StoreError,
    StoreUnavailable,
    Summary,
)
from fleetmon_db.timeseries.rollup import RollupScheduler
from fleetmon_db.timeseries.tiers import DEFAULT_TIERS, Tier, validate_tiers

log = logging.getLogger(__name__)


class InfluxStore(TimeSeriesStore):
    """TimeSeriesStore on InfluxDB through /write and /query (InfluxQL)."""

    name = "influxdb"

    def __init__(
        self,
        url: str,
        database: str,
        *,
        tiers: Sequence[Tier] = DEFAULT_TIERS,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        pool_size: int = 8,
        verify: bool | str = True,
        clock: Callable[[], int] = time.time_ns,
        rollup_delay_s: int = 60,
        rollup_chunk_windows: int = 24,
    ) -> None:
        validate_tiers(tiers)
        if not database:
            raise ValueError("InfluxDB store: the database name (URL path) is missing")
        self.tiers = tuple(tiers)
        headers = auth_headers(token, username, password)
        self.client = InfluxClient(
            url, database, headers, timeout=timeout, verify=verify, pool_size=pool_size
        )
        self.lines = LineWriter(
            self.client.url, database, headers, timeout=timeout, verify=verify, pool_size=pool_size
        )
        backend = InfluxRollupBackend(self.client, self.lines, self.tiers)
        self.rollups = RollupScheduler(
            backend, self.tiers, delay_s=rollup_delay_s, chunk_windows=rollup_chunk_windows
        )
        self._raw = RawWriter(
            self.lines,
            self.tiers[0].name,
            self.rollups,
            backend.mark,
            clock,
            hidden_before=self._hidden_before,
        )
        # Concurrent ingest requests share writes (group commit): a fleet's small batches
        # would otherwise cost influxd one request each.
        self._async = GroupCommitWriter(
            AsyncRawWriter(self._raw), count=lambda b: self.lines.encoder.encode_batch(b)[1]
        )

        # Rollup tier -> watermark, as the rollup bookkeeping stores it (for stitching).
        def watermarks() -> dict[str, int]:
            return {tier: wm for tier, (wm, _) in backend.read_state().items()}

        self._reads = InfluxReads(self.client, self.tiers, clock, watermarks)
        self._summaries = InfluxSummaries(self.client, self.tiers, clock, watermarks)
        self._clock = clock
        self._features: InfluxFeatures | None = None
        self._probe_lock = threading.Lock()

    @property
    def database(self) -> str:
        """The InfluxDB database (1.x) or the database a 2.x/3.x bucket mapping serves."""
        return self.client.database

    # -- the server and what it can do ----------------------------------------------------

    def _hidden_before(self) -> int | None:
        """3.x: points older than this are taken but hidden (raw retention, our clock)."""
        if self.features.major != 3:
            return None
        return self._clock() - self.tiers[0].retention_s * NS

    @property
    def features(self) -> InfluxFeatures:
        """The server's version and capability set, probed once (/ping).

        Raises UnsupportedServer for a version that cannot serve the store (3.0-3.6),
        StoreUnavailable while the server does not answer (the next call probes again).
        """
        found = self._features
        if found is None:
            with self._probe_lock:
                found = self._features or self._probe()
        return found

    def _probe(self) -> InfluxFeatures:
        found = features(*self.client.ping())
        if found != self._features:
            log.info("InfluxDB capabilities: %s", found.as_dict())
        self._features = found
        return found

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        """The same on every version but for deleting and clock-driven expiry, which are
        known once the server has answered (`ensure_schema`, `ping`); until then they read
        as on 1.x, and `delete_host` and `enforce_retention` probe for themselves."""
        f = self._features
        return Capabilities(
            concurrent_queries=True,
            combined_aggregates=True,
            native_async_writes=True,
            server_retention=True,
            deletes_hosts=f is None or f.delete != "none",
            retention_follows_clock=f is None or f.drops_shards,
        )

    def server_info(self) -> dict[str, Any]:
        """The probed version and capability set ({} until the server has answered)."""
        return self._features.as_dict() if self._features is not None else {}

    # -- lifecycle ------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Probe the server, then make the tiers exist as that version allows.

        1.x: the database and one retention policy per tier; 2.x: the buckets come from the
        deployment (checked, a missing one is logged); 3.x: a database per tier with its
        retention, through the configure API.
        """
        f = self.features
        if f.manages_retention_policies:
            create_retention_policies(self.client, self.tiers)
            return
        try:
            if f.configures_databases:
                configure_databases(self.client, self.tiers)
                return
            missing = check_buckets(self.client, self.tiers)
        except StoreUnavailable:
            raise
        except StoreError as exc:
            # A token that may write and query but not manage databases or list buckets:
            # the store works; the retention set-up is then the operator's.
            log.error(
                "InfluxDB %s: cannot %s (%s); set each tier's retention as docs/storage.md says",
                f.version,
                "configure the tier databases" if f.configures_databases else "list the buckets",
                exc,
            )
            return
        if missing:
            log.error(
                "InfluxDB %s: buckets %s are missing; create them with their tiers' "
                "retention and a default DBRP mapping (docs/storage.md)",
                f.version,
                ", ".join(missing),
            )

    def ping(self) -> None:
        """Raise StoreUnavailable unless /ping answers (UnsupportedServer for 3.0-3.6).

        Each answer updates the capability set: a server upgraded in place is seen."""
        with self._probe_lock:
            self._probe()

    def close(self) -> None:
        """Close the connection pools (and the write pipeline's threads)."""
        self.client.close()
        self.lines.close()

    # -- writes ---------------------------------------------------------------------------

    def write(self, points: Sequence[Point]) -> int:
        """Write points to the raw RP; mark rolled-up windows that late points fall into."""
        return self._raw.write_batch(PointBatch.of(points))

    def write_batch(self, batch: PointBatch) -> int:
        """`write` for a flat batch (pipelined when large)."""
        return self._raw.write_batch(batch)

    @property
    def async_writer(self) -> AsyncWriter:
        """Writes from the event loop itself, over asyncio keep-alive connections."""
        return self._async

    # -- reads ----------------------------------------------------------------------------

    def latest(self, host: str, since_ns: int | None = None) -> list[Sample]:
        """Latest value of every series of `host`: two statements, one request."""
        return self._reads.latest(host, since_ns)

    def latest_many(self, selectors: Sequence[Selector], since_ns: int) -> list[Sample]:
        """Latest value of every series matching any selector: one statement per selector."""
        return self._reads.latest_many(selectors, since_ns)

    def query_range(self, query: RangeQuery, now_ns: int | None = None) -> list[SeriesData]:
        """Bucketed values per series, stitched across tiers (stitch.py)."""
        return self._reads.query_range(query, now_ns)

    def aggregate(
        self, selector: Selector, start_ns: int, end_ns: int, aggregate: Aggregate
    ) -> list[Sample]:
        """One value per series over [start, end) from raw data."""
        return self._reads.aggregate(selector, start_ns, end_ns, aggregate)

    def aggregate_many(
        self, selector: Selector, start_ns: int, end_ns: int, aggregates: Sequence[Aggregate]
    ) -> dict[Aggregate, list[Sample]]:
        """Several aggregates in one statement."""
        return self._reads.aggregate_many(selector, start_ns, end_ns, aggregates)

    def summary(
        self, selector: Selector, start_ns: int, end_ns: int, now_ns: int | None = None
    ) -> Summary:
        """avg/min/max exact; p95/p99 exact on raw (one or two requests), estimated on rollups."""
        return self._summaries.summary(selector, start_ns, end_ns, now_ns)

    def hosts(self) -> list[str]:
        """Every value of the host tag in the database."""
        return self._reads.hosts()

    def series(self, host: str) -> list[SeriesKey]:
        """Every series of a host, in any tier."""
        return self._reads.series(host)

    # -- deletion and retention -----------------------------------------------------------

    def delete_host(self, host: str) -> None:
        """Delete every point of the host in every tier: DROP SERIES (1.x), /api/v2/delete
        per bucket (2.x); StoreError on 3.x, which cannot delete by predicate."""
        f = self.features
        if f.delete == "drop-series":
            drop_series(self.client, host)
        elif f.delete == "api-v2-delete":
            delete_from_buckets(self.client, self.tiers, host)
        else:
            raise StoreError(
                f"InfluxDB {f.version} cannot delete points by host (no delete by predicate "
                "on 3.x); they expire with each tier's retention"
            )

    def enforce_retention(self, now_ns: int) -> None:
        """Drop shards past each tier's retention (1.x); 2.x/3.x expire by themselves."""
        if self.features.drops_shards:
            drop_expired_shards(self.client, self.tiers, now_ns)
