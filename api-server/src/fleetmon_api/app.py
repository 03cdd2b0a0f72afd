"""The FastAPI application factory."""

from __future__ import annotations

import functools
import gc
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleetmon_api import agentdist, apidocs, errors, logredact
from fleetmon_api.idempotency import BatchLedger, MemoryLedger, RedisLedger
from fleetmon_api.ingest.cardinality import Cardinality, CardinalityLimits
from fleetmon_api.ingest.fastpath import FastCompiler
from fleetmon_api.ingest.fieldtypes import FieldTypes
from fleetmon_api.ingest.validate import Limits, Validator
from fleetmon_api.jobs import RollupJob
from fleetmon_api.keycache import KeyCache, KeyRevalidator
from fleetmon_api.latefill import LateArrivals
from fleetmon_api.losses import LossBook
from fleetmon_api.presence import Presence
from fleetmon_api.ratelimit import RateLimiter
from fleetmon_api.rolluplag import RollupLag
from fleetmon_api.routers import ROUTERS
from fleetmon_api.security import JWTConfig
from fleetmon_api.settings import Settings
from fleetmon_api.settings import load as load_settings
from fleetmon_api.state import AppState, OverviewPools, every, utc_now
from fleetmon_api.stores import ensure_schema_soon, open_configured_store
from fleetmon_api.telemetry import Telemetry
from fleetmon_db import heap
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.timeseries import TimeSeriesStore

# First-generation GC threshold of the serving process (CPython's default is 700).
GC_GEN0_THRESHOLD = 20_000
# Seconds between heap trims (fleetmon_db.heap): a few ms each.
HEAP_TRIM_S = 30.0

StoreFactory = Callable[[str], TimeSeriesStore]


# Every answer carries the server's clock (unix seconds, ms precision): agents measure their
# clock's offset from it and correct their timestamps (DESIGN "Clock skew").
TIME_HEADER = b"x-fleetmon-time"


class _Timing:
    """Pure ASGI middleware recording request latency per route template (cheap per request),
    and stamping every answer with the server time (TIME_HEADER)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        state: AppState | None = getattr(scope["app"].state, "fleetmon", None)
        clock = state.clock if state is not None else utc_now

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                stamp = b"%.3f" % clock().timestamp()
                message["headers"] = [*message.get("headers", ()), (TIME_HEADER, stamp)]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            if state is not None:
                state.telemetry.request_latency.labels(
                    scope["method"], template, str(status)
                ).observe(time.perf_counter() - started)


def build_state(settings: Settings, store_factory: StoreFactory) -> AppState:
    """Open engine, store and caches for one process."""
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    store = store_factory(settings.store_url)
    memory = MemoryLedger(settings.idempotency_ttl_s, settings.idempotency_cache_size)
    ledger: BatchLedger = memory
    if settings.redis_url:
        ledger = RedisLedger(
            settings.redis_url, settings.rate_limit_key_prefix, settings.idempotency_ttl_s, memory
        )
    limiter = RateLimiter(
        settings.rate_limit_storage_url,
        settings.rate_limit_key_prefix,
        {
            "ingest": settings.ingest_rate_limit,
            "enroll": settings.enroll_rate_limit,
            "login": settings.login_rate_limit,
            "auth_failure": settings.auth_failure_rate_limit,
        },
    )
    validator = Validator(Limits.from_settings(settings, store.tiers[0].retention_s))
    telemetry = Telemetry()
    return AppState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        store=store,
        limiter=limiter,
        ledger=ledger,
        # Per process: a revocation evicts here at once and in the other workers at their
        # next revalidation sweep (see keycache.py).
        keys=KeyCache(settings.key_cache_ttl_s),
        presence=Presence(sessions, utc_now),
        losses=LossBook(sessions, utc_now, telemetry),
        late=LateArrivals(sessions, utc_now),
        telemetry=telemetry,
        jwt=JWTConfig(
            key=settings.signing_key(),
            algorithm=settings.jwt_algorithm,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_s=settings.jwt_ttl_s,
        ),
        validator=validator,
        compiler=FastCompiler(validator),
        overview_pools=OverviewPools.start(),
        cardinality=Cardinality(
            CardinalityLimits(
                settings.max_series_per_host,
                settings.max_measurements_per_host,
                settings.max_fields_per_host,
                settings.cardinality_window_s,
            ),
            time.monotonic,
        ),
        field_types=FieldTypes(engine, settings.store_retry_after_s),
        rollup_lag=RollupLag(store.tiers),
    )


def _start(
    state: AppState,
    name: str,
    interval: float,
    job: Callable[[], object],
    *,
    at_once: bool = False,
    wait_s: Callable[[], float] | None = None,
) -> None:
    t = threading.Thread(
        target=every,
        args=(interval, state.stop, job, name),
        kwargs={"at_once": at_once, "wait_s": wait_s},
        name=f"fleetmon-{name}",
        daemon=True,
    )
    t.start()
    state.threads.append(t)


def tune_gc() -> None:
    """Keep the cyclic GC off the long-lived heap (imports, app, engine, caches).

    An ingest batch allocates thousands of containers, so collections run several times
    per request; without this each older-generation pass walks every object the process
    has (hundreds of thousands after importing SQLAlchemy, pydantic and FastAPI), which
    cost more CPU than parsing the batch. Frozen objects are never collected (they live as
    long as the process anyway); a larger first generation means fewer, cheaper passes.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 20, 20)


def create_app(
    settings: Settings, store_factory: StoreFactory | None = None, *, freeze_gc: bool = False
) -> FastAPI:
    """Build the API; the lifespan opens the database engine and the store.

    `freeze_gc` (the `fleetmon serve` process) runs `tune_gc` once the state is built.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Here, not at import: uvicorn configures logging in each worker before the lifespan.
        logredact.install()
        state = build_state(settings, store_factory or open_configured_store)
        app.state.fleetmon = state
        ensure_schema_soon(state.store, state.stop, settings.store_retry_after_s)
        _start(state, "presence-flush", settings.presence_flush_s, state.presence.flush)
        _start(state, "losses-flush", settings.presence_flush_s, state.losses.flush)
        _start(state, "late-flush", settings.presence_flush_s, state.late.flush)
        # Freed heap pages back to the OS (rollup runs and request bursts leave peaks that
        # glibc keeps otherwise): a soak's RSS stayed up to 45 MB above its level for the 5
        # minutes after each hourly rollup.
        _start(state, "heap-trim", HEAP_TRIM_S, heap.trim)
        if settings.key_revalidate_s > 0 and settings.key_cache_ttl_s > 0:
            sweep = KeyRevalidator(state.keys, state.sessions, state.clock).sweep
            # At once: the first sweep loads every valid key before the fleet reconnects.
            _start(state, "key-revalidate", settings.key_revalidate_s, sweep, at_once=True)
        for tier in state.rollup_lag.tiers:
            gauge = state.telemetry.rollup_lag.labels(tier.name)
            gauge.set_function(functools.partial(state.rollup_lag.lag_s, tier.name))
        rollups = RollupJob(state) if settings.rollup_interval_s > 0 else None
        if rollups is not None:
            # At each window's close (or the interval, if shorter): the 5m tier's lag stays
            # within one window + the close delay + one run.
            _start(state, "rollup", settings.rollup_interval_s, rollups.run_once,
                   wait_s=rollups.wait_s)  # fmt: skip
        if freeze_gc:
            tune_gc()
        try:
            yield
        finally:
            state.stop.set()
            for t in state.threads:
                t.join(timeout=10)
            state.overview_pools.shutdown()
            state.parse_pool.shutdown(wait=True, cancel_futures=True)
            if rollups is not None:
                rollups.close()
            state.presence.flush()
            state.losses.flush()
            state.late.flush()
            await state.ledger.aclose()  # on this loop, which opened its connections
            await state.store.async_writer.aclose()  # on this loop, which opened its connections
            state.store.close()
            state.engine.dispose()

    app = FastAPI(
        title="fleetmon API",
        version="1.0.0",
        summary="Fleet server monitoring: ingest, queries, hosts, auth and alerts",
        lifespan=lifespan,
        docs_url=None,  # apidocs serves /docs from vendored files (FastAPI's uses a CDN)
        redoc_url=None,
    )
    apidocs.install(app)
    errors.install(app)
    app.add_middleware(_Timing)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(agentdist.router)

    return app


def app_from_environment() -> FastAPI:
    """The app of one `fleetmon serve --workers N` process, configured by its environment
    (which the parent process has already validated)."""
    from fleetmon_api.cli import LOG_FORMAT

    # A spawned worker starts with bare logging; uvicorn configures only its own loggers.
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    return create_app(load_settings(), freeze_gc=True)
