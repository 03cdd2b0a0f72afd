"""Per-app runtime state: engines, store, caches; created in the lifespan, read via deps."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_api.idempotency import BatchLedger
from fleetmon_api.ingest.cardinality import Cardinality
from fleetmon_api.ingest.fastpath import FastCompiler
from fleetmon_api.ingest.fieldtypes import FieldTypes
from fleetmon_api.ingest.validate import Validator
from fleetmon_api.keycache import KeyCache
from fleetmon_api.latefill import LateArrivals
from fleetmon_api.losses import LossBook
from fleetmon_api.presence import Presence
from fleetmon_api.ratelimit import RateLimiter
from fleetmon_api.rolluplag import RollupLag
from fleetmon_api.security import JWTConfig
from fleetmon_api.settings import Settings
from fleetmon_api.snapshot import Snapshot
from fleetmon_api.telemetry import Telemetry
from fleetmon_db.timeseries import TimeSeriesStore

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """Wall-clock now, UTC-aware."""
    return datetime.now(UTC)


@dataclass
class OverviewPools:
    """The fleet overview's threads: store reads side by side, and the snapshot lookups that
    may wait on those reads (never the same pool: a full pool would wait on itself)."""

    reads: ThreadPoolExecutor
    lookups: ThreadPoolExecutor

    @classmethod
    def start(cls, workers: int = 8) -> OverviewPools:
        """Two pools of `workers` threads each (threads start on first use)."""
        return cls(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleetmon-overview"),
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleetmon-overview-get"),
        )

    def shutdown(self) -> None:
        """Stop both, dropping queued work and waiting for running reads to end."""
        self.lookups.shutdown(wait=True, cancel_futures=True)
        self.reads.shutdown(wait=True, cancel_futures=True)


@dataclass
class OverviewHosts:
    """The overview's host list: per request for small fleets, a snapshot for large ones."""

    snapshot: Snapshot[Any] = field(default_factory=lambda: Snapshot("overview hosts"))
    large: bool = False


@dataclass
class AppState:
    """Everything request handlers share within one process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: TimeSeriesStore
    limiter: RateLimiter
    ledger: BatchLedger
    keys: KeyCache
    presence: Presence
    losses: LossBook
    late: LateArrivals
    telemetry: Telemetry
    jwt: JWTConfig
    validator: Validator
    compiler: FastCompiler
    overview_pools: OverviewPools
    # After decoding, before the store: per-host budgets, then the field-type contract.
    cardinality: Cardinality
    field_types: FieldTypes
    rollup_lag: RollupLag
    clock: Callable[[], datetime] = utc_now
    stop: threading.Event = field(default_factory=threading.Event)
    # The fleet overview's store reads (fleetmon_api.snapshot.Snapshot), per process.
    overview_cache: Snapshot[Any] = field(default_factory=lambda: Snapshot("overview"))
    overview_hosts: OverviewHosts = field(default_factory=OverviewHosts)
    threads: list[threading.Thread] = field(default_factory=list)
    # Parsing of large ingest bodies, off the event loop. Its own small pool: hostile bodies
    # queue here, never in the pool that runs sync endpoints such as /health, and at most
    # this many bodies are being parsed (and held decoded) at once.
    parse_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="fleetmon-parse"
        )
    )

    def now_ns(self) -> int:
        """The injected clock as epoch nanoseconds."""
        return int(self.clock().timestamp() * 1_000_000_000)


def every(
    interval_s: float,
    stop: threading.Event,
    job: Callable[[], object],
    name: str,
    *,
    at_once: bool = False,
    wait_s: Callable[[], float] | None = None,
) -> None:
    """Run `job` every `interval_s` (or after `wait_s()` seconds, asked before each wait;
    first at once if `at_once`) until `stop` is set; a failing run is logged, not fatal."""
    wait = 0.0 if at_once else (wait_s() if wait_s else interval_s)
    while not stop.wait(wait):
        wait = interval_s
        started = time.monotonic()
        try:
            job()
        except Exception:
            log.exception("%s failed", name)
        log.debug("%s took %.3fs", name, time.monotonic() - started)
        if wait_s is not None:
            try:
                wait = max(0.0, wait_s())
            except Exception:
                log.exception("%s: scheduling failed; waiting %s s", name, interval_s)
