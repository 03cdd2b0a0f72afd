"""Deliver spooled batches over HTTP: gzip, keep-alive, backoff with full jitter.

What each answer means (docs/agent.md, "Delivery, spool and replay"):

- 2xx: stored; the batch is forgotten.
- 429, 5xx, connection errors: retried with backoff; a cheap probe of `/health` every
  couple of seconds ends the wait as soon as the server answers again.
- 401, 403, 404, other 4xx, TLS failures, answers that are not the fleetmon API's: the
  agent is misconfigured, not the data. Kept in the spool, retried with backoff, one clear
  error line saying what to fix.
- 400, 413, 422 from the fleetmon API: the data is refused. A batch of several points is
  split until only the points really refused remain; those go to quarantine, counted.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import os
import random
import re
import threading
import time
from typing import Any, Callable

import requests

from fleetmon_agent import __version__
from fleetmon_agent.drops import DropLedger
from fleetmon_agent.neterrors import describe, is_stale_connection, is_tls
from fleetmon_agent.skew import ClockOffset, server_time
from fleetmon_agent.spool import Batch, Spool, WirePoint
from fleetmon_agent.stats import AgentStats

log = logging.getLogger(__name__)

COLLECT_PATH = "/api/v1/metrics/collect"
HEALTH_PATH = "/health"
USER_AGENT = f"fleetmon-agent/{__version__}"
MAX_RETRY_AFTER = 3600.0
PROBE_INTERVAL = 2.0  # while backing off from an outage, ask /health this often
# Requests spent isolating the refused points of one batch in one go; what still fails then
# goes back to the spool as batches of their own, split further when their turn comes, so
# fresh data is not held up behind a batch with many bad points.
MAX_SPLIT_REQUESTS = 64
# Answers that refuse the data itself; any other 4xx is a configuration problem.
DATA_REFUSED = frozenset({400, 413, 415, 422})
_POINT_INDEX = re.compile(r"points\[(\d+)\]")
# A refusal of the `agent` object itself (`agent.dropped: Extra inputs are not permitted`).
_AGENT_REFUSED = re.compile(r'"detail"\s*:\s*"agent\b')
_INT64_MAX = 2**63 - 1


class Outcome:
    """What to do with a batch after one attempt."""

    ACK = "ack"
    RETRY = "retry"  # the server or the network is unwell: back off, probe, send again
    HOLD = "hold"  # the agent's configuration is wrong: keep the data, back off, say so
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
        "dropped_points": min(sum(dropped.values()), _INT64_MAX),
        "dropped": dropped,
        "quarantined_files": quarantined,
        "clock_offset_s": round(clock_offset, 3),
    }


def encode(
    batch: Batch, ledger: DropLedger, clock_offset: float = 0.0, legacy: bool = False
) -> bytes:
    """The wire body (gzip'd JSON) for a batch; no host identity: the key is the identity.

    `clock_offset` (server minus agent) is added to every timestamp here, at send time: the
    spool keeps the agent's own timestamps, so nothing is ever corrected twice. `legacy`:
    the `agent` object as servers before the drop counters accept it.
    """
    points: list[WirePoint] = batch.points
    if clock_offset:
        points = [dict(p, time=p["time"] + clock_offset) for p in points]
    agent = agent_state(ledger, clock_offset)
    if legacy:
        agent = {"version": agent["version"], "dropped_points": agent["dropped_points"]}
    body = {"batch_id": batch.batch_id, "agent": agent, "points": points}
    return gzip.compress(json.dumps(body, separators=(",", ":")).encode(), compresslevel=5)


def first_offending_index(reason: str) -> int | None:
    """The point the server named first (`points[17]: ...`), if it named one."""
    m = _POINT_INDEX.search(reason)
    return int(m.group(1)) if m else None


class Sender:
    """One HTTP session posting batches; classifies every answer per the wire contract."""

    def __init__(
        self,
        url: str,
        api_key: str,
        timeout: float = 10.0,
        verify: Any = True,
        stats: AgentStats | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base = url.rstrip("/")
        self.endpoint = self.base + COLLECT_PATH
        self.timeout = timeout
        self.clock = clock  # the agent's wall clock (injected: tests skew it)
        self.offset = ClockOffset()
        # Set when the server refuses the agent object's newer fields (an older fleetmon):
        # from then on only version and dropped_points are sent, the data still flows.
        self.legacy_agent = False
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

    @property
    def clock_offset(self) -> float:
        """The correction added to timestamps now (server clock minus agent clock)."""
        return self.offset.applied

    def _learn_clock(self, resp: requests.Response, sent: float, received: float) -> bool:
        found = server_time(resp.headers)
        if found is None:
            return False
        changed = self.offset.learn(found[0], (sent + received) / 2.0, found[1])
        if changed:
            log.warning(
                "the agent's clock is %+.1fs off the server's: timestamps sent are corrected "
                "by that (fix the host's time sync)",
                -self.offset.applied,
            )
        return changed

    def _post(self, data: bytes) -> requests.Response:
        request = self._template.copy()
        request.prepare_body(data, None)
        try:
            return self.session.send(request, timeout=self.timeout, proxies=self.session.proxies)
        except requests.ConnectionError as exc:
            # A kept-alive connection the server closed while idle (its keep-alive timeout
            # can equal our flush interval): the request never arrived, send it once more on
            # a fresh connection. A retry is harmless anyway: the server deduplicates ids.
            if not is_stale_connection(exc):
                raise
            request = self._template.copy()
            request.prepare_body(data, None)
            return self.session.send(request, timeout=self.timeout, proxies=self.session.proxies)

    def send(self, batch: Batch, ledger: DropLedger) -> tuple[str, float | None, str]:
        """POST one batch: (outcome, retry-after seconds or None, reason)."""
        used_offset = self.offset.applied
        data = encode(batch, ledger, used_offset, self.legacy_agent)
        started, sent_at = time.monotonic(), self.clock()
        try:
            resp = self._post(data)
        except requests.RequestException as exc:
            self.stats.record_send(False, time.monotonic() - started, 0)
            why = describe(exc, self.base, self.timeout)
            if is_tls(exc):
                return Outcome.HOLD, None, why
            return Outcome.RETRY, None, why
        elapsed = time.monotonic() - started
        offset_changed = self._learn_clock(resp, sent_at, self.clock())
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
        if code in (401, 403):
            return (
                Outcome.HOLD,
                None,
                (
                    f"HTTP {code}: the server rejected the API key; set server.api_key or run "
                    "`fleetmon-agent enroll` again"
                ),
            )
        if code == 404:
            return (
                Outcome.HOLD,
                None,
                (
                    f"HTTP 404: no fleetmon API at {self.endpoint}; check server.url (the "
                    "server's base URL, without /api/...)"
                ),
            )
        # 413 from anyone (a proxy's body limit too) means "smaller, please": split it.
        if code not in DATA_REFUSED or (code != 413 and not _is_api_error(resp)):
            return (
                Outcome.HOLD,
                None,
                (
                    f"HTTP {code} from {self.base} is not a fleetmon API answer ({detail[:120]}); "
                    "check server.url"
                ),
            )
        if offset_changed and used_offset != self.offset.applied:
            # Refused with timestamps corrected by an offset we now know to be wrong (the
            # very first request of a skewed agent): not the data's fault. Send it again.
            return Outcome.RETRY, 0.0, f"HTTP {code} before the clock offset was known"
        if not self.legacy_agent and _AGENT_REFUSED.search(detail):
            self.legacy_agent = True
            log.warning(
                "the server refuses the agent's drop counters and clock offset (%s): an "
                "older fleetmon; sending without them",
                detail[:200],
            )
            return Outcome.RETRY, 0.0, f"HTTP {code} for the agent object, not the data"
        return Outcome.REJECT, None, f"HTTP {code}: {detail}"

    def probe(self) -> bool:
        """Whether the server answers `/health` with 200 (a cheap GET; also reads its clock)."""
        sent = self.clock()
        try:
            resp = self.session.get(
                self.base + HEALTH_PATH,
                timeout=min(self.timeout, PROBE_INTERVAL),
                proxies=self.session.proxies,
            )
        except requests.RequestException:
            return False
        self._learn_clock(resp, sent, self.clock())
        return resp.status_code == 200

    def close(self) -> None:
        """Close the keep-alive connections."""
        self.session.close()


def _is_api_error(resp: requests.Response) -> bool:
    """Whether an error answer is the fleetmon API's own (JSON with a `detail`)."""
    try:
        doc = json.loads(resp.content[:65536])
    except ValueError:
        return False
    return isinstance(doc, dict) and "detail" in doc


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
        probe_interval: float = PROBE_INTERVAL,
    ) -> None:
        self.spool, self.sender = spool, sender
        self.stop, self.wake = stop, wake
        self.max_request_points = max_request_points
        self.fresh_share = fresh_share
        self.retry_initial, self.retry_max = retry_initial, retry_max
        self.rand = rand
        self.before_take = before_take
        self.probe_interval = probe_interval
        self._credit = 0.0
        self._last_complaint = ""

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

    def _wait(self, delay: float, probe: bool) -> bool:
        """Back off for `delay` seconds, ended early when a probe finds the server up again;
        True if asked to stop meanwhile."""
        deadline = time.monotonic() + delay
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.stop.wait(min(left, self.probe_interval) if probe else left):
                return True
            if probe and deadline - time.monotonic() > 0 and self.sender.probe():
                log.info("the server answers again: sending at once")
                return False

    def attempt(self, batch: Batch) -> tuple[str, str] | None:
        """Send until the server stores (ACK) or refuses the data (REJECT): (outcome,
        reason); None if asked to stop first. Everything else is retried, data kept."""
        attempt = 0
        while True:
            outcome, retry_after, reason = self.sender.send(batch, self.spool.ledger)
            if outcome in (Outcome.ACK, Outcome.REJECT):
                if attempt and outcome == Outcome.ACK:
                    log.info("sending works again (batch %s)", batch.batch_id)
                self._last_complaint = ""
                return outcome, reason
            delay = backoff_delay(attempt, self.retry_initial, self.retry_max, self.rand)
            if retry_after is not None:
                # The server knows its own load: its Retry-After wins over our backoff
                # (bounded, so a bogus header cannot park the agent for days).
                delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
            attempt += 1
            if outcome == Outcome.HOLD:
                # Loud and precise, but once per distinct problem (and every 10th retry).
                if reason != self._last_complaint or attempt % 10 == 0:
                    log.error(
                        "cannot deliver: %s; %d spooled batches kept, retry in %.1fs",
                        reason,
                        self.spool.stats()[0],
                        delay,
                    )
            elif attempt == 1 or attempt % 10 == 0 or reason != self._last_complaint:
                log.warning(
                    "sending batch %s failed (%s); retry %d in %.1fs",
                    batch.batch_id,
                    reason,
                    attempt,
                    delay,
                )
            self._last_complaint = reason
            # Probe only an outage (down, 5xx): a 429 says when to come back, and a wrong
            # key or URL is not fixed any faster by asking more often.
            probe = outcome == Outcome.RETRY and retry_after is None
            if self._wait(delay, probe):
                return None

    def deliver(self, batch: Batch) -> bool:
        """Send one batch until stored or refused (split, see `_split`); False if stopped."""
        result = self.attempt(batch)
        if result is None:
            return False
        outcome, reason = result
        if outcome == Outcome.ACK:
            self.spool.ack(batch)
            return True
        if len(batch.points) <= 1:
            self._quarantine(batch, [(batch.points, reason)])
            self.spool.reject(batch, reason)
            return True
        split = self._split(batch, reason)
        if split is None:
            return False  # stopped: the whole batch stays spooled, split again next time
        refused, unresolved = split
        self._quarantine(batch, refused)
        if unresolved:
            log.warning(
                "batch %s: %d points in %d parts still refused after %d requests: back to "
                "the spool, to be split further",
                batch.batch_id,
                sum(len(p) for p in unresolved),
                len(unresolved),
                MAX_SPLIT_REQUESTS,
            )
        self.spool.settle(batch, refused, unresolved)
        return True

    def _quarantine(self, batch: Batch, refused: list[tuple[list[WirePoint], str]]) -> None:
        for points, reason in refused:
            log.error(
                "server refused %d of the %d points of batch %s: %s; moved to quarantine",
                len(points),
                len(batch.points),
                batch.batch_id,
                reason,
            )
        with self.sender.stats.lock:
            self.sender.stats.batches_quarantined += len(refused)

    def _split(
        self, batch: Batch, reason: str
    ) -> tuple[list[tuple[list[WirePoint], str]], list[list[WirePoint]]] | None:
        """Deliver the parts of a refused batch that the server takes: the (points, reason)
        it refuses for good and the parts not resolved within the request budget; None if
        asked to stop.

        A part is cut around the point the server names first (`points[17]`), else in two
        halves; each part goes out under an id derived from the batch's and its range, so
        a split repeated after a restart is deduplicated by the server part by part.
        """
        points = batch.points
        refused: list[tuple[list[WirePoint], str]] = []
        unresolved: list[list[WirePoint]] = []
        failing = [(0, len(points), reason)]
        budget = MAX_SPLIT_REQUESTS
        while failing:
            lo, hi, why = failing.pop(0)
            if hi - lo == 1:
                refused.append((points[lo:hi], why))
                continue
            if budget <= 0:
                unresolved.append(points[lo:hi])
                continue
            bad = first_offending_index(why)
            if bad is not None and 0 <= bad < hi - lo:
                cuts = [(lo, lo + bad), (lo + bad, lo + bad + 1), (lo + bad + 1, hi)]
            else:
                mid = (lo + hi) // 2
                cuts = [(lo, mid), (mid, hi)]
            for a, b in cuts:
                if a >= b:
                    continue
                if budget <= 0:
                    unresolved.append(points[a:b])
                    continue
                budget -= 1
                part = Batch(f"{batch.batch_id}:{a}-{b}", points[a:b])
                result = self.attempt(part)
                if result is None:
                    return None
                if result[0] == Outcome.REJECT:
                    failing.append((a, b, result[1]))
        return refused, unresolved

    def run(self) -> None:
        """Loop until stopped: take, deliver, wait for more."""
        # Learn the server's clock before the first batch goes out: a skewed agent's first
        # request would otherwise be refused (or stored at the wrong time) once.
        try:
            self.sender.probe()
        except Exception:  # only an early measurement: never a reason not to send
            log.exception("probing the server failed")
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
