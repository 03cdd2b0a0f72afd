"""The running agent: scheduled collectors -> in-memory batch -> spool -> sender thread."""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

import schedule

from fleetmon_agent.collectors import BY_NAME, Collector, Context
from fleetmon_agent.config import Config
from fleetmon_agent.drops import UNSPOOLED
from fleetmon_agent.points import Point
from fleetmon_agent.sender import Delivery, Sender
from fleetmon_agent.spool import FileSpool, Spool, WirePoint
from fleetmon_agent.stats import AgentStats

if TYPE_CHECKING:  # the exporter (http.server) is imported only when it is enabled
    from fleetmon_agent.exporter import LatestValues

log = logging.getLogger(__name__)

ERROR_LOG_EVERY = 300.0  # a failing collector logs at most once per this many seconds
MAX_UNSPOOLED = 100_000  # points held in memory while the spool cannot be written
SHUTDOWN_GRACE = 3.0  # the sender gets this long to finish; the whole exit stays under 5 s


class Running:
    """A collector the agent schedules."""

    def __init__(
        self, name: str, interval: float, collector: Collector, heavy: bool = False
    ) -> None:
        self.name = name
        self.interval = interval
        self.collector = collector
        self.heavy = heavy
        self.job: Any = None
        self.last_error_log = -1e18
        self.suppressed = 0


def _every(scheduler: schedule.Scheduler, seconds: float) -> schedule.Job:
    # schedule annotates intervals as int, yet builds a timedelta: fractions work and
    # sub-second flushes are what the tests use.
    return scheduler.every(seconds).seconds  # type: ignore[arg-type,no-any-return]


def build_collectors(config: Config, ctx: Context) -> list[Running]:
    """Instantiate every enabled collector, in registry order."""
    out: list[Running] = []
    for name, options in config.collectors.items():
        if options.enabled:
            spec = BY_NAME[name]
            out.append(Running(name, options.interval, spec.create(ctx, options), spec.heavy))
    return out


class Agent:
    """Wires collectors, batching, the spool and the sender; `run()` blocks until stopped."""

    def __init__(
        self,
        config: Config,
        api_key: str,
        collectors: list[Running] | None = None,
        ctx: Context | None = None,
        spool: Spool | None = None,
        clock: Callable[[], float] = time.time,
        stats: AgentStats | None = None,
    ) -> None:
        self.config = config
        self.api_key = api_key
        # Counters outlive a reload (SIGHUP): the agent is rebuilt, its history is not.
        self.stats = stats or AgentStats()
        self.ctx = ctx or Context(agent_stats=self.stats)
        self.ctx.agent_stats = self.stats
        self.ctx.expose = config.exporter.enabled  # collectors add what only pull mode serves
        self.ctx.ps()  # import psutil now, not inside the first timed collection
        self.clock = clock
        self.spool = spool or FileSpool(
            config.spool.dir, config.spool.max_bytes, config.spool.max_age
        )
        self.stats.spool_probe = self.spool.stats
        self.collectors = (
            collectors if collectors is not None else build_collectors(config, self.ctx)
        )
        self.scheduler = schedule.Scheduler()
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self._pending: list[WirePoint] = []
        self._lock = threading.Lock()
        self.latest: LatestValues | None = None
        self._exporter: Any = None
        self.exit_code = 0
        # Set by SIGHUP: run() returns so the caller rebuilds the agent from the re-read config.
        self.reload_requested = False
        server = config.server
        verify: Any = server.ca_bundle or True
        if server.insecure:
            verify = False
        self.sender = Sender(server.url, api_key, server.timeout, verify, self.stats, clock)
        self.delivery = Delivery(
            self.spool,
            self.sender,
            self.stop_event,
            self.wake,
            max_request_points=config.batch.max_request_points,
            fresh_share=config.batch.fresh_share,
            retry_initial=server.retry_initial,
            retry_max=server.retry_max,
        )
        self._sender_thread: threading.Thread | None = None
        self._groups: dict[float, list[Running]] = {}

    # --- collection -------------------------------------------------------------------

    def run_collector(self, running: Running) -> list[Point]:
        """Run one collector; a failure is logged (rate-limited) and skipped."""
        started, cpu_started = time.perf_counter(), time.thread_time()
        points: list[Point] = []
        failed = False
        try:
            points = running.collector.collect(self.clock())
        except Exception as exc:  # noqa: BLE001 - one broken collector must not stop the rest
            failed = True
            now = time.monotonic()
            if now - running.last_error_log >= ERROR_LOG_EVERY:
                more = (
                    f" ({running.suppressed} more since last report)" if running.suppressed else ""
                )
                log.error("collector %s failed: %r%s", running.name, exc, more)
                running.last_error_log, running.suppressed = now, 0
            else:
                running.suppressed += 1
        self.stats.record_collect(
            running.name,
            time.perf_counter() - started,
            len(points),
            failed,
            time.thread_time() - cpu_started,
        )
        if self.latest is not None and not failed:
            self.latest.update(running.name, points)
        if points:
            with self._lock:
                self._pending.extend(p.to_wire() for p in points)
                full = len(self._pending) >= self.config.batch.max_points
            if full:
                self.flush()
        return points

    def flush(self) -> None:
        """Move the in-memory batch into the spool (durable) and wake the sender."""
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            self.spool.add(pending)
        except OSError as exc:
            # Disk full or spool dir gone: keep the points in memory for a later flush,
            # up to MAX_UNSPOOLED, beyond which the oldest are dropped and counted.
            with self._lock:
                self._pending = pending + self._pending
                excess = len(self._pending) - MAX_UNSPOOLED
                if excess > 0:
                    del self._pending[:excess]
            if excess > 0:
                self.spool.ledger.add(UNSPOOLED, excess)
            log.error(
                "cannot write to the spool (%s); %d points held in memory", exc, len(self._pending)
            )
            return
        self.wake.set()

    def run_due(self, interval: float) -> None:
        """Run every collector of one interval, then flush if the flush shares that interval."""
        for running in list(self._groups.get(interval, ())):
            self.run_collector(running)
        if interval == self.config.batch.flush_interval:
            self.flush()  # right after the collectors: their points leave in this wake-up

    def disable_next(self) -> str | None:
        """Self-limit action: cancel the costliest collector still running (process scans first)."""
        candidates = [r for r in self.collectors if r.job is not None and r.name != "agent"]
        candidates.sort(key=lambda r: not r.heavy)
        if not candidates:
            return None
        victim = candidates[0]
        group = self._groups.get(victim.interval, [])
        if victim in group:
            group.remove(victim)
        if not group and victim.interval != self.config.batch.flush_interval:
            self.scheduler.cancel_job(victim.job)
        victim.job = None
        self.stats.disabled.append(victim.name)
        return victim.name

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Schedule collectors, start the sender thread (and the exporter when enabled)."""
        # One job per distinct interval, not per collector: collectors that share an interval
        # run in one wake-up of the main loop instead of drifting apart into one each.
        for running in self.collectors:
            self._groups.setdefault(running.interval, []).append(running)
        self._groups.setdefault(self.config.batch.flush_interval, [])
        for interval, group in self._groups.items():
            job = _every(self.scheduler, interval).do(self.run_due, interval)
            for running in group:
                running.job = job
        if self.config.exporter.enabled:
            from fleetmon_agent.exporter import LatestValues

            self.latest = LatestValues()
        for running in self.collectors:  # first sample right away, not one interval late
            self.run_collector(running)
        # Threads start after that first round: it opens the process table's /proc files,
        # growing the descriptor table, and while a second thread shares the table every
        # growth waits for an RCU grace period (~25 ms in all, here, for 600 processes).
        if self.latest is not None:
            self._start_exporter(self.latest)
        self._sender_thread = threading.Thread(target=self.delivery.run, name="sender", daemon=True)
        self._sender_thread.start()

    def _start_exporter(self, latest: LatestValues) -> None:
        """Serve /metrics; a port already in use costs pull mode only, never push mode."""
        from fleetmon_agent.exporter import serve

        address, port = self.config.exporter.address, self.config.exporter.port
        try:
            self._exporter = serve(latest, address, port)
        except OSError as exc:
            log.error(
                "exporter: cannot listen on %s:%d (%s); pull mode is off, push goes on "
                "(set exporter.port or FLEETMON_EXPORTER_PORT)",
                address,
                port,
                exc.strerror or exc,
            )
            self.latest = None
            self.ctx.expose = False
            return
        log.info("exporter: serving http://%s:%d/metrics", address, port)

    def start_limits(self) -> None:
        """Check the self-limits on their own schedule."""
        from fleetmon_agent.limits import SelfLimits

        lim = self.config.limits
        limits = SelfLimits(
            lim.cpu_percent, lim.rss_mb, lim.action, self.disable_next, self.request_stop
        )
        _every(self.scheduler, lim.check_interval).do(limits.check)

    def request_stop(self, *_args: object) -> None:
        """Ask the main loop to stop (signal handlers and self-limits call this)."""
        self.reload_requested = False  # a stop wins over a reload asked for before it
        self.stop_event.set()
        self.wake.set()

    def request_reload(self, *_args: object) -> None:
        """SIGHUP: stop like SIGTERM (the batch in memory goes to the spool), then reload."""
        if not self.stop_event.is_set():
            self.reload_requested = True
        self.stop_event.set()
        self.wake.set()

    def run(self, install_signals: bool = True) -> int:
        """Run until SIGTERM/SIGINT or request_stop(); spool what is pending; return exit code."""
        if install_signals:
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
            signal.signal(signal.SIGHUP, self.request_reload)
        self.start_limits()
        # Imported modules and the agent's set-up live for ever: keep the cyclic GC from
        # rescanning them. Before the first collection, or the first full GC pass (~10 ms
        # over every imported object) lands inside it.
        gc.collect()
        gc.freeze()
        self.start()
        while not self.stop_event.is_set():
            self.scheduler.run_pending()
            idle = self.scheduler.idle_seconds
            self.stop_event.wait(min(max(idle if idle is not None else 1.0, 0.01), 60.0))
        self.shutdown()
        return self.exit_code

    def shutdown(self) -> None:
        """Spool the in-memory batch, give the sender a moment, close everything."""
        self.stop_event.set()
        self.wake.set()
        try:
            self.flush()
        except OSError as exc:
            log.error("could not spool the last batch: %s", exc)
        with self._lock:
            lost, self._pending = len(self._pending), []
        if lost:  # the spool could not take them and the process ends: counted, not silent
            log.error("%d points could not be spooled before exit: dropped", lost)
            self.spool.ledger.add(UNSPOOLED, lost)
        if self._sender_thread is not None:
            # A reload reopens the spool next: let a request in flight finish first (a stop
            # must be quick; the next start reopens the spool anyway).
            grace = SHUTDOWN_GRACE + (self.sender.timeout if self.reload_requested else 0.0)
            self._sender_thread.join(grace)
            if self._sender_thread.is_alive():
                log.warning("the sender did not stop within %.0fs", grace)
        if self._exporter is not None:
            self._exporter.shutdown()
            self._exporter.server_close()
        self.spool.close()

    def counters(self) -> dict[str, int]:
        """A few numbers for status output."""
        files, size, dropped = self.spool.stats()
        return {"spool_files": files, "spool_bytes": size, "dropped_points": dropped}
