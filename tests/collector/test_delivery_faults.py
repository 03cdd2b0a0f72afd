"""Delivery against misbehaving servers and misconfigured agents: nothing is lost.

A refused merged replay is split down to the points really refused; an outage ends as soon
as a probe finds the server up; a skewed clock is measured from the server's answers and
corrected at send time; a wrong key, URL or certificate keeps the data and says what to fix.
"""

from __future__ import annotations

import json
import logging
import math
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fleetmon_agent.agent import Agent, Running
from fleetmon_agent.drops import DropLedger
from fleetmon_agent.points import Point
from fleetmon_agent.sender import Delivery, Outcome, Sender
from fleetmon_agent.spool import Batch, FileSpool
from fleetmon_agent.spool.files import QUARANTINE
from tests.collector.conftest import make_config
from tests.collector.test_delivery import free_port, run_agent
from tests.support.receiver import Received, Receiver, wait_until

MAX_PAST_S, MAX_FUTURE_S = 7 * 86400, 600


def seq_points(start: int, n: int, t: float = 0.0) -> list[dict[str, Any]]:
    return [
        {"measurement": "seq", "time": t + i, "tags": {}, "fields": {"n": start + i}}
        for i in range(n)
    ]


class StrictServer:
    """Answers like the fleetmon API would: 422 naming the first invalid point (NaN, or a
    timestamp outside its window), 202 otherwise; its clock is the real one."""

    def __init__(self, name_index: bool = True, precise_time: bool = False) -> None:
        self.name_index = name_index
        self.precise_time = precise_time

    def __call__(self, got: Received) -> tuple[int, dict[str, str], bytes]:
        now = time.time()
        headers = {"Content-Type": "application/json"}
        if self.precise_time:
            headers["X-Fleetmon-Time"] = f"{now:.6f}"
        if got.path == "/health":
            return 200, headers, b'{"status": "ok"}'
        doc = got.json()
        for i, p in enumerate(doc["points"]):
            bad = any(isinstance(v, float) and math.isnan(v) for v in p["fields"].values())
            if bad or not now - MAX_PAST_S <= p["time"] <= now + MAX_FUTURE_S:
                where = f"points[{i}]" if self.name_index else "a point"
                detail = f"{where}: invalid; the whole batch was rejected"
                return 422, headers, json.dumps({"detail": detail}).encode()
        return 202, headers, json.dumps({"points": len(doc["points"])}).encode()


def delivery(spool: FileSpool, url: str, **kw: Any) -> Delivery:
    sender = Sender(url, "k", timeout=2.0, clock=kw.pop("clock", time.time))
    kw.setdefault("retry_initial", 0.01)
    kw.setdefault("retry_max", 0.05)
    return Delivery(spool, sender, threading.Event(), threading.Event(), **kw)


def accepted_ns(receiver: Receiver) -> list[int]:
    return sorted(p["fields"]["n"] for p in receiver.accepted_points())


# --- a refused merged replay is split ------------------------------------------------------


@pytest.mark.parametrize("name_index", [True, False], ids=["server-names-the-point", "bisect"])
def test_one_nan_in_a_merged_replay_quarantines_that_point_only(
    tmp_path: Path, name_index: bool
) -> None:
    now = time.time()
    spool = FileSpool(str(tmp_path))
    for f in range(9):  # nine spooled batches of 40 points, merged into one request
        points = seq_points(f * 40, 40, now - 100)
        if f == 6:
            points[17]["fields"]["n"] = float("nan")
        spool.add(points)
    with Receiver(handler=StrictServer(name_index)) as receiver:
        delivery(spool, receiver.url).drain_once()
        assert accepted_ns(receiver) == [n for n in range(360) if n != 6 * 40 + 17]
        assert len(receiver.requests) <= (4 if name_index else 20)
    assert spool.stats()[0] == 0
    assert spool.ledger.snapshot() == ({"rejected": 1}, 1)
    (qfile,) = [p for p in (tmp_path / QUARANTINE).iterdir() if p.suffix == ".json"]
    (bad,) = json.loads(qfile.read_text())["points"]
    assert math.isnan(bad["fields"]["n"])


@pytest.mark.parametrize("name_index", [True, False], ids=["server-names-the-point", "bisect"])
def test_many_bad_points_beyond_the_split_budget_lose_no_valid_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name_index: bool
) -> None:
    """The oldest part of a backlog too old for the server: a run of refused points."""
    from fleetmon_agent import sender as sender_module

    monkeypatch.setattr(sender_module, "MAX_SPLIT_REQUESTS", 5)
    now = time.time()
    spool = FileSpool(str(tmp_path))
    points = seq_points(0, 30, now - 60)
    for p in points[:12]:
        p["time"] = now - MAX_PAST_S - 3600  # beyond the server's window
    spool.add(points)
    with Receiver(handler=StrictServer(name_index)) as receiver:
        delivery(spool, receiver.url).drain_once()
        assert accepted_ns(receiver) == list(range(12, 30))
    assert spool.stats()[0] == 0
    assert spool.ledger.snapshot() == ({"rejected": 12}, 12)


def test_a_proxy_body_limit_splits_the_request(tmp_path: Path) -> None:
    def proxy(got: Received) -> tuple[int, dict[str, str], bytes]:
        if len(got.json()["points"]) > 10:  # nginx's client_max_body_size, say
            return 413, {"Content-Type": "text/html"}, b"<html>413 Request Entity Too Large"
        return 202, {"Content-Type": "application/json"}, b"{}"

    spool = FileSpool(str(tmp_path))
    for f in range(4):
        spool.add(seq_points(f * 10, 10, time.time()))
    with Receiver(handler=proxy) as receiver:
        delivery(spool, receiver.url).drain_once()
        assert accepted_ns(receiver) == list(range(40))
    assert spool.ledger.snapshot() == ({}, 0)


def test_split_parts_keep_their_ids_so_a_repeated_split_is_deduplicated(tmp_path: Path) -> None:
    points = seq_points(0, 10, time.time())
    points[4]["fields"]["n"] = float("nan")
    FileSpool(str(tmp_path)).add(points)
    ids: list[list[str]] = []
    for crash in (True, False):
        spool = FileSpool(str(tmp_path))
        if crash:  # the process dies after the parts went out, before the outcome is kept

            def boom(*args: object) -> None:
                raise RuntimeError("crash")

            spool.settle = boom  # type: ignore[method-assign,assignment]
        with Receiver(handler=StrictServer()) as receiver:
            batch = spool.take(100)
            assert batch is not None
            d = delivery(spool, receiver.url)
            if crash:
                with pytest.raises(RuntimeError):
                    d.deliver(batch)
            else:
                assert d.deliver(batch)
            ids.append([r.json()["batch_id"] for r in receiver.requests])
    assert ids[0] == ids[1]  # the server answers the repeated parts as duplicates
    assert len(set(ids[0])) == len(ids[0]) == 4  # whole, [0,4), [4], [5,10)


def test_an_older_server_refusing_the_new_agent_fields_still_gets_the_data(
    tmp_path: Path,
) -> None:
    def older(got: Received) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json"}
        if set(got.json()["agent"]) - {"version", "dropped_points"}:
            detail = "agent.dropped: Extra inputs are not permitted"
            return 422, headers, json.dumps({"detail": detail}).encode()
        return 202, headers, b"{}"

    spool = FileSpool(str(tmp_path))
    for f in range(3):
        spool.add(seq_points(f * 10, 10, time.time()))
    with Receiver(handler=older) as receiver:
        delivery(spool, receiver.url).drain_once()
        assert accepted_ns(receiver) == list(range(30))
        assert len(receiver.requests) == 2  # refused once, then without the new fields
    assert spool.ledger.snapshot() == ({}, 0)


# --- recovery: a probe ends the backoff -----------------------------------------------------


def test_delivery_resumes_within_seconds_of_the_server_coming_back(tmp_path: Path) -> None:
    port = free_port()
    spool = FileSpool(str(tmp_path))
    spool.add(seq_points(0, 5, time.time()))
    # Backoff of a full minute (rand = 1): only the probe can end the wait early.
    d = delivery(
        spool,
        f"http://127.0.0.1:{port}",
        retry_initial=60,
        retry_max=60,
        rand=lambda: 1.0,
        probe_interval=0.2,
    )
    t = threading.Thread(target=d.drain_once, daemon=True)
    t.start()
    time.sleep(0.5)  # refused: backing off for 60 s
    receiver = Receiver(port=port, handler=StrictServer()).start()
    back = time.monotonic()
    try:
        assert wait_until(lambda: len(receiver.accepted()) == 1, timeout=5)
        assert time.monotonic() - back < 1.5
    finally:
        d.stop.set()
        t.join(5)
        receiver.stop()


def test_no_probing_while_the_server_asks_to_wait(tmp_path: Path) -> None:
    spool = FileSpool(str(tmp_path))
    spool.add(seq_points(0, 1, time.time()))
    with Receiver(status=202) as receiver:
        receiver.fixed["/health"] = (200, {"status": "ok"})
        receiver.responder = lambda n, body: (429, {"Retry-After": "1"}) if n == 0 else None
        delivery(spool, receiver.url, probe_interval=0.1).drain_once()
        assert [r.path for r in receiver.requests] == ["/api/v1/metrics/collect"] * 2
        assert receiver.requests[1].at - receiver.requests[0].at >= 0.9


# --- clock skew -------------------------------------------------------------------------------


@pytest.mark.parametrize("skew", [15 * 60.0, -8 * 86400.0], ids=["15min-ahead", "8days-behind"])
@pytest.mark.parametrize("precise", [True, False], ids=["x-fleetmon-time", "date-header"])
def test_skewed_agent_clock_loses_nothing(tmp_path: Path, skew: float, precise: bool) -> None:
    def clock() -> float:
        return time.time() + skew

    spool = FileSpool(str(tmp_path), clock=clock)
    # Spooled before the offset was known, then more: every one is corrected once, at send.
    spool.add(seq_points(0, 3, clock()))
    spool.take(100)  # sealed: it goes alone
    spool = FileSpool(str(tmp_path), clock=clock)
    spool.add(seq_points(3, 3, clock()))
    spool.add(seq_points(6, 3, clock()))
    with Receiver(handler=StrictServer(precise_time=precise)) as receiver:
        d = delivery(spool, receiver.url, clock=clock)
        d.drain_once()
        spool.add(seq_points(9, 3, clock()))
        d.drain_once()
        assert accepted_ns(receiver) == list(range(12))
        tolerance = 0.5 if precise else 2.0
        assert all(abs(p["time"] - time.time()) < 30 for p in receiver.accepted_points())
        bodies = [r.json() for r in receiver.ok()]
        assert all(abs(b["agent"]["clock_offset_s"] + skew) < tolerance for b in bodies)
    assert spool.ledger.snapshot() == ({}, 0)
    # What stays in the spool is the agent's own time: corrected at send, never twice.
    assert not list(tmp_path.glob("*.json"))


def test_a_synchronised_clock_is_left_alone(tmp_path: Path) -> None:
    spool = FileSpool(str(tmp_path))
    points = seq_points(0, 2, 1_000.25 + time.time())
    spool.add(points)
    with Receiver(status=202) as receiver:
        d = delivery(spool, receiver.url)
        d.drain_once()
        assert receiver.accepted_points() == points  # Date header noise is not skew
        assert d.sender.clock_offset == 0.0


# --- configuration mistakes keep the data -------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (401, b'{"detail": "invalid API key"}', "rejected the API key"),
        (403, b'{"detail": "forbidden"}', "rejected the API key"),
        (404, b'{"detail": "Not Found"}', "no fleetmon API at"),
        (400, b"<html>400 Bad Request</html>", "not a fleetmon API answer"),
        (405, b"<html>Method Not Allowed</html>", "not a fleetmon API answer"),
    ],
)
def test_a_configuration_error_keeps_the_data_and_says_what_is_wrong(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, status: int, body: bytes, says: str
) -> None:
    fixed = {"on": True}

    def handler(got: Received) -> tuple[int, dict[str, str], bytes]:
        if fixed["on"]:
            return status, {"Content-Type": "text/html"}, body
        return 202, {"Content-Type": "application/json"}, b"{}"

    with Receiver(handler=handler) as receiver:
        config = make_config(tmp_path, url=receiver.url)
        seq = SeqN()
        agent = Agent(config, "k", collectors=[Running("seq", 0.05, seq)])
        with caplog.at_level(logging.ERROR, logger="fleetmon_agent.sender"):
            thread = run_agent(agent)
            assert wait_until(lambda: len(receiver.requests) >= 4, timeout=10)
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors
        assert all(says in e for e in errors)
        assert len(errors) < len(receiver.requests)  # one line per problem, not per retry
        assert not list((tmp_path / "spool" / QUARANTINE).glob("*.json"))
        fixed["on"] = False  # the operator fixes it
        held = set(range(1, seq.n + 1))  # collected while misconfigured: all kept
        assert wait_until(lambda: held <= set(accepted_ns(receiver)), 10)
        agent.request_stop()
        thread.join(5)
    assert agent.spool.ledger.snapshot() == ({}, 0)


class SeqN:
    """One numbered point per call."""

    def __init__(self) -> None:
        self.n = 0

    def collect(self, now: float) -> list[Point]:
        self.n += 1
        return [Point("seq", now, {}, {"n": self.n})]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:{free}", "connection refused"),
        ("http://fleetmon.invalid", "DNS: cannot resolve"),
    ],
)
def test_connection_errors_name_their_cause(url: str, says: str) -> None:
    sender = Sender(url.format(free=free_port()), "k", timeout=2.0)
    outcome, _, reason = sender.send(Batch("b", seq_points(0, 1)), DropLedger())
    assert outcome == Outcome.RETRY
    assert says in reason


def test_a_timeout_is_named(tmp_path: Path) -> None:
    with Receiver(status=202, delay=1.0) as receiver:
        sender = Sender(receiver.url, "k", timeout=0.2)
        outcome, _, reason = sender.send(Batch("b", seq_points(0, 1)), DropLedger())
    assert (outcome, reason) == (Outcome.RETRY, "timeout: no answer within 0.2s")


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """An https server with a self-signed certificate (no CA the agent trusts)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip

    class H(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_tls_verification_failure_keeps_the_data(tls_server: str) -> None:
    sender = Sender(tls_server, "k", timeout=2.0)
    outcome, _, reason = sender.send(Batch("b", seq_points(0, 1)), DropLedger())
    assert outcome == Outcome.HOLD
    assert reason.startswith("TLS: certificate verification failed")
    assert "server.ca_bundle" in reason
