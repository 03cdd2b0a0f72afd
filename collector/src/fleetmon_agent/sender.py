"""Deliver spooled batches over HTTP: gzip, keep-alive, backoff with full jitter."""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import os
import random
import threading
import time
from typing import Any, Callable

import requests

from fleetmon_agent import __version__
from fleetmon_agent.drops import DropLedger
from fleetmon_agent.spool import Batch, Spool
from fleetmon_agent.stats import AgentStats

log = logging.getLogger(__name__)

COLLECT_PATH = "/api/v1/metrics/collect"
USER_AGENT = f"fleetmon-agent/{__version__}"
MAX_RETRY_AFTER = 3600.0


class Outcome:
    """What to do with a batch after one attempt."""

    ACK = "ack"
    RETRY = "retry"
    REJECT = "reject"


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(float(when.timestamp()) - now, 0.0)


def backoff_delay(attempt: int, initial: float, cap: float, rand: Callable[[], float]) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, initial * 2**attempt)]."""
    return float(rand()) * min(cap, initial * 2.0 ** min(attempt, 30))


def agent_state(ledger: DropLedger, clock_offset: float = 0.0) -> dict[str, Any]:
    """The wire's `agent` object: version, drops by reason (cumulative), clock offset."""
    dropped, quarantined = ledger.snapshot()
    return {
        "version": __version__,
        "dropped_points": min(sum(dropped.values()), 2**63 - 1),
        "dropped": dropped,
        "quarantined_files": quarantined,
        "clock_offset_s": round(clock_offset, 3),
    }


def encode(batch: Batch, ledger: DropLedger) -> bytes:
    """The wire body (gzip'd JSON) for a batch; no host identity: the key is the identity."""
    body = {"batch_id": batch.batch_id, "agent": agent_state(ledger), "points": batch.points}
    return gzip.compress(json.dumps(body, separators=(",", ":")).encode(), compresslevel=5)


class Sender:
    """One HTTP session posting batches; classifies every answer per the wire contract."""

    def __init__(
        self,
        url: str,
        api_key: str,
        timeout: float = 10.0,
        verify: Any = True,
        stats: AgentStats | None = None,
    ) -> None:
        self.endpoint = url.rstrip("/") + COLLECT_PATH
        self.timeout = timeout
        self.session = requests.Session()
        # requests re-reads the environment (proxies, CA bundle) and ~/.netrc on every
        # request: about a third of the CPU a request costs. The environment is read once,
        # here, instead; a netrc entry would have replaced the bearer key anyway.
        self.session.trust_env = False
        self.session.proxies = requests.utils.get_environ_proxies(self.endpoint)
        if verify is True:
            env = os.environ
            verify = env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or True
        self.session.verify = verify
        self.session.headers.update(
            {
                "Authorization": f"Bearer {api_key}",
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "User-Agent": USER_AGENT,
            }
        )
        self.stats = stats or AgentStats()
        # Every request is the same but for its body: prepare it once (URL parsing and the
        # merging of session settings are most of what requests spends per request).
        self._template = self.session.prepare_request(requests.Request("POST", self.endpoint))

    def send(self, batch: Batch, ledger: DropLedger) -> tuple[str, float | None, str]:
        """POST one batch: (outcome, retry-after seconds or None, reason)."""
        data = encode(batch, ledger)
        started = time.monotonic()
        request = self._template.copy()
        request.prepare_body(data, None)
        try:
            resp = self.session.send(request, timeout=self.timeout, proxies=self.session.proxies)
        except requests.RequestException as exc:
            self.stats.record_send(False, time.monotonic() - started, 0)
            return Outcome.RETRY, None, f"connection error: {type(exc).__name__}"
        elapsed = time.monotonic() - started
        code = resp.status_code
        if 200 <= code < 300:
            self.stats.record_send(True, elapsed, len(batch.points))
            return Outcome.ACK, None, f"HTTP {code}"
        self.stats.record_send(False, elapsed, 0)
        # The server answers JSON in UTF-8: no encoding guesswork (see lean.py).
        detail = resp.content[:1200].decode("utf-8", "replace")[:300].replace("\n", " ")
        if code == 429 or code >= 500:
            return (
                Outcome.RETRY,
                parse_retry_after(resp.headers.get("Retry-After"), time.time()),
                (f"HTTP {code}: {detail}"),
            )
        return Outcome.REJECT, None, f"HTTP {code}: {detail}"

    def close(self) -> None:
        """Close the keep-alive connections."""
        self.session.close()


class Delivery:
    """The sender thread's loop: spool -> server, oldest first with a fair share for fresh data."""

    def __init__(
        self,
        spool: Spool,
        sender: Sender,
        stop: threading.Event,
        wake: threading.Event,
        max_request_points: int = 20000,
        fresh_share: float = 0.5,
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
        rand: Callable[[], float] = random.random,
        before_take: Callable[[], None] | None = None,
    ) -> None:
        self.spool, self.sender = spool, sender
        self.stop, self.wake = stop, wake
        self.max_request_points = max_request_points
        self.fresh_share = fresh_share
        self.retry_initial, self.retry_max = retry_initial, retry_max
        self.rand = rand
        self.before_take = before_take
        self._credit = 0.0

    def _next(self) -> Batch | None:
        if self.before_take is not None:
            self.before_take()
        entries = self.spool.stats()[0]
        newest = False
        if entries > 1:
            # Backlog: mostly replay oldest-first, but a share of requests carry fresh data
            # so dashboards recover at once instead of after the whole backlog.
            self._credit += self.fresh_share
            if self._credit >= 1.0:
                self._credit -= 1.0
                newest = True
        return self.spool.take(self.max_request_points, newest=newest)

    def deliver(self, batch: Batch) -> bool:
        """Send one batch until acked or rejected; False if asked to stop first."""
        attempt = 0
        while True:
            outcome, retry_after, reason = self.sender.send(batch, self.spool.ledger)
            if outcome == Outcome.ACK:
                self.spool.ack(batch)
                return True
            if outcome == Outcome.REJECT:
                log.error(
                    "server refused batch %s (%d points) for good: %s; moved to quarantine",
                    batch.batch_id,
                    len(batch.points),
                    reason,
                )
                self.spool.reject(batch, reason)
                if self.sender.stats is not None:
                    with self.sender.stats.lock:
                        self.sender.stats.batches_quarantined += 1
                return True
            delay = backoff_delay(attempt, self.retry_initial, self.retry_max, self.rand)
            if retry_after is not None:
                # The server knows its own load: its Retry-After wins over our backoff
                # (bounded, so a bogus header cannot park the agent for days).
                delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
            attempt += 1
            if attempt == 1 or attempt % 10 == 0:
                log.warning(
                    "sending batch %s failed (%s); retry %d in %.1fs",
                    batch.batch_id,
                    reason,
                    attempt,
                    delay,
                )
            if self.stop.wait(delay):
                return False

    def run(self) -> None:
        """Loop until stopped: take, deliver, wait for more."""
        while not self.stop.is_set():
            try:
                batch = self._next()
                if batch is None:
                    self.wake.wait(30.0)  # flush() sets wake; the timeout is only a safety net
                    self.wake.clear()
                    continue
                if not self.deliver(batch):
                    return
            except Exception:  # a dead sender thread would stop delivery silently
                log.exception("sender loop failed; trying again in %.0fs", self.retry_max)
                if self.stop.wait(self.retry_max):
                    return

    def drain_once(self) -> dict[str, int]:
        """Deliver everything currently spooled (used by tests and `once`-style tools)."""
        sent = 0
        while True:
            batch = self._next()
            if batch is None:
                return {"batches": sent}
            if not self.deliver(batch):
                return {"batches": sent}
            sent += 1
