"""Delivery: one thread and queue per channel, so a slow or failing channel never holds
another channel or the evaluation loop. Outcomes are written back to the outbox rows."""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts import outbox
from fleetmon_alerts.channels import Channel, ChannelContext, ConfigError, DeliveryError, build
from fleetmon_alerts.clock import Clock
from fleetmon_db.models import AlertChannel, AlertNotification

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped; a receiver's Retry-After wins."""

    base_s: float = 2.0
    max_s: float = 300.0
    max_attempts: int = 8

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt number `attempts + 1`."""
        if retry_after is not None:
            return retry_after
        backoff = min(self.base_s * 2.0 ** max(attempts - 1, 0), self.max_s)
        return backoff * random.uniform(0.8, 1.2)


@dataclass(frozen=True)
class _Job:
    row_id: int
    attempts: int
    payload: dict[str, Any]


class ChannelRunner:
    """Sends one channel's notifications in order, paced and retried, on its own thread."""

    def __init__(
        self,
        channel_id: int,
        name: str,
        channel: Channel,
        sessions: sessionmaker[Session],
        clock: Clock,
        policy: RetryPolicy,
        done: Callable[[int], None],
    ) -> None:
        self.channel_id = channel_id
        self.name = name
        self.channel = channel
        self.sessions = sessions
        self.clock = clock
        self.policy = policy
        self.done = done
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        self._not_before = 0.0  # monotonic: pacing and Retry-After block the whole webhook
        self.thread = threading.Thread(target=self._run, name=f"channel-{name}", daemon=True)
        self.thread.start()

    def submit(self, job: _Job) -> None:
        """Queue a notification."""
        self.jobs.put(job)

    def stop(self) -> None:
        """Finish the current send, then exit."""
        self.jobs.put(None)

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                break
            try:
                self._deliver(job)
            except Exception:
                log.exception("channel %r: unexpected error", self.name)
            finally:
                self.done(job.row_id)
        self.channel.close()

    def _fresh(self, job: _Job) -> bool:
        # The pump may have read the row just before this runner recorded the previous
        # attempt; a stale job must not send twice.
        with self.sessions() as session:
            row = session.get(AlertNotification, job.row_id)
            return row is not None and row.status == outbox.PENDING and row.attempts == job.attempts

    def _deliver(self, job: _Job) -> None:
        wait = self._not_before - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        if not self._fresh(job):
            return
        error: DeliveryError | None = None
        try:
            self.channel.send(job.payload)
        except DeliveryError as exc:
            error = exc
        finally:
            self._not_before = time.monotonic() + self.channel.min_interval_s
        attempts = job.attempts + 1
        now = self.clock.now()
        with self.sessions() as session:
            row = session.get(AlertNotification, job.row_id)
            if row is None or row.status != outbox.PENDING or row.attempts != job.attempts:
                return
            row.attempts = attempts
            if error is None:
                row.status, row.sent_at, row.last_error = outbox.SENT, now, None
            else:
                row.last_error = str(error)[:500]
                if error.permanent or attempts >= self.policy.max_attempts:
                    row.status = outbox.FAILED
                    log.error("channel %r gave up on notification %d: %s", self.name, row.id, error)
                else:
                    delay = self.policy.delay(attempts, error.retry_after)
                    if error.retry_after is not None:
                        self._not_before = max(self._not_before, time.monotonic() + delay)
                    row.next_attempt_at = now + timedelta(seconds=delay)
                    log.warning(
                        "channel %r: attempt %d failed (%s); retry in %.1fs",
                        self.name,
                        attempts,
                        error,
                        delay,
                    )
            session.commit()


class Dispatcher:
    """Hands due outbox rows to per-channel runners; only the leader runs one."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        ctx: ChannelContext | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.ctx = ctx or ChannelContext()
        self.policy = policy or RetryPolicy()
        self._runners: dict[int, tuple[str, ChannelRunner]] = {}
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()

    def _done(self, row_id: int) -> None:
        with self._lock:
            self._in_flight.discard(row_id)

    def _runner(self, ch: AlertChannel) -> ChannelRunner | None:
        # Rebuild the runner when the channel's config changed through the API.
        signature = json.dumps([ch.kind, ch.config, ch.repeat_interval_s], sort_keys=True)
        current = self._runners.get(ch.id)
        if current and current[0] == signature:
            return current[1]
        if current:
            current[1].stop()
        ctx = ChannelContext(self.ctx.timeout_s, ch.repeat_interval_s)
        try:
            channel = build(ch.kind, ch.config or {}, ctx)
        except ConfigError as exc:
            log.error("channel %r misconfigured: %s", ch.name, exc)
            self._runners.pop(ch.id, None)
            return None
        runner = ChannelRunner(
            ch.id, ch.name, channel, self.sessions, self.clock, self.policy, self._done
        )
        self._runners[ch.id] = (signature, runner)
        return runner

    def pump(self) -> int:
        """Queue every due notification not already queued; return how many were queued."""
        now = self.clock.now()
        queued = 0
        with self.sessions() as session:
            rows = outbox.due(session, now)
            if not rows:
                return 0
            channels = {c.id: c for c in session.scalars(select(AlertChannel))}
            for row in rows:
                with self._lock:
                    if row.id in self._in_flight:
                        continue
                ch = channels.get(row.channel_id)
                runner = self._runner(ch) if ch is not None and ch.enabled else None
                if runner is None:
                    row.status, row.last_error = outbox.FAILED, "channel disabled or misconfigured"
                    continue
                with self._lock:
                    self._in_flight.add(row.id)
                # The row id lets receivers drop the rare repeat after a crash mid-send.
                body = {**row.payload, "notification_id": row.id}
                runner.submit(_Job(row.id, row.attempts, body))
                queued += 1
            session.commit()
        return queued

    def idle(self) -> bool:
        """True when nothing is being sent right now."""
        with self._lock:
            return not self._in_flight

    def drain(self, timeout_s: float) -> bool:
        """Pump until every notification is sent or given up (or `timeout_s` passes)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            queued = self.pump()
            if queued == 0 and self.idle():
                with self.sessions() as session:
                    if outbox.pending_count(session) == 0:
                        return True
            time.sleep(0.05)
        return False

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop every runner, waiting briefly for sends in progress."""
        runners = [r for _, r in self._runners.values()]
        self._runners.clear()
        for r in runners:
            r.stop()
        for r in runners:
            r.thread.join(timeout_s)
