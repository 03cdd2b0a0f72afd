"""The worker loop: win the leader lock, evaluate every interval, pump the outbox, answer
notification previews."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts.clock import Clock
from fleetmon_alerts.delivery import Dispatcher
from fleetmon_alerts.evaluate import Evaluator
from fleetmon_alerts.leader import LeaderLock
from fleetmon_alerts.previews import PreviewResponder
from fleetmon_db import heap
from fleetmon_db.timeseries import TimeSeriesStore

log = logging.getLogger(__name__)


class Worker:
    """Runs until `stop` is set; only while leader does it evaluate and deliver."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        store: TimeSeriesStore,
        clock: Clock,
        lock: LeaderLock,
        dispatcher: Dispatcher,
        interval_s: float,
        public_url: str,
    ) -> None:
        self.evaluator = Evaluator(sessions, store, clock, public_url)
        self.dispatcher = dispatcher
        self.previews = PreviewResponder(sessions, store, clock, public_url)
        self.lock = lock
        self.interval_s = interval_s
        self.stop = threading.Event()
        self.leader = False

    def _check_leadership(self) -> None:
        if self.leader and not self.lock.held():
            log.error("lost the leader lock; standing by")
            self.leader = False
            self.dispatcher.stop()
        elif not self.leader and self.lock.try_acquire():
            log.info("became leader")
            self.leader = True

    def run(self) -> None:
        """Loop until stopped; release the lock on the way out."""
        # Followers retry at least once per interval, so a dead leader is replaced in time.
        poll = min(1.0, self.interval_s)
        next_eval = time.monotonic()
        try:
            while not self.stop.is_set():
                self._check_leadership()
                if not self.leader:
                    self.stop.wait(poll)
                    next_eval = time.monotonic()
                    continue
                if time.monotonic() >= next_eval:
                    started = time.monotonic()
                    try:
                        for d in self.evaluator.run_once():
                            log.info("%s", d.line())
                    except Exception:
                        log.exception("evaluation failed")
                    heap.trim()  # the evaluation's transient peak, back to the OS
                    next_eval = started + self.interval_s
                try:
                    self.dispatcher.pump()
                except Exception:
                    log.exception("outbox pump failed")
                # Someone waits for each preview: answered on every pass (at most 0.2 s apart).
                try:
                    self.previews.answer_pending()
                except Exception:
                    log.exception("answering notification previews failed")
                self.stop.wait(min(0.2, max(next_eval - time.monotonic(), 0.0)))
        finally:
            self.dispatcher.stop()
            self.lock.release()
