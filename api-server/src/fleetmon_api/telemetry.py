"""The server's own Prometheus metrics (one registry per app, so tests can run several apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Telemetry:
    """Counters and histograms exposed at GET /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.batches = Counter(
            "fleetmon_ingest_batches", "Batches accepted", ["endpoint"], registry=r
        )
        self.duplicates = Counter(
            "fleetmon_ingest_duplicate_batches",
            "Retried batches acknowledged without writing",
            registry=r,
        )
        self.points = Counter("fleetmon_ingest_points", "Points accepted", ["endpoint"], registry=r)
        self.rejects = Counter(
            "fleetmon_ingest_rejects", "Ingest requests rejected", ["reason"], registry=r
        )
        self.request_latency = Histogram(
            "fleetmon_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.store_write_latency = Histogram(
            "fleetmon_store_write_duration_seconds",
            "Time-series store write latency per batch",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.store_errors = Counter(
            "fleetmon_store_errors", "Store calls that failed", ["operation"], registry=r
        )
        self.rate_limited = Counter(
            "fleetmon_rate_limited", "Requests answered 429", ["scope"], registry=r
        )
        self.rollup_runs = Counter(
            "fleetmon_rollup_runs", "Rollup + retention runs", ["outcome"], registry=r
        )
        # Seconds of data not yet rolled up into each tier, from the store's watermarks.
        self.rollup_lag = Gauge(
            "fleetmon_rollup_lag_seconds",
            "Now minus the end of the windows rolled up, per rollup tier",
            ["tier"],
            registry=r,
        )
        # Fleet-wide; per host in the hosts API (a label per host would not scale).
        self.points_dropped = Counter(
            "fleetmon_points_dropped",
            "Points not stored: dropped by agents (kind=agent, their reason) or refused by "
            "this server (kind=refused)",
            ["kind", "reason"],
            registry=r,
        )
        self.files_quarantined = Counter(
            "fleetmon_spool_files_quarantined",
            "Spool files agents set aside as unreadable or refused",
            registry=r,
        )
        self.up = Gauge("fleetmon_up", "1 while the API process serves", registry=r)
        self.up.set(1)
