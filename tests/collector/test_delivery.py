"""Sending against a real loopback HTTP receiver: outages, 429, 500 storms, poison, slowness."""

from __future__ import annotations

import gzip
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fleetmon_agent.agent import Agent, Running
from fleetmon_agent.drops import DropLedger
from fleetmon_agent.points import Point
from fleetmon_agent.sender import Delivery, Sender, backoff_delay, parse_retry_after
from fleetmon_agent.spool import Batch, FileSpool
from fleetmon_agent.spool.files import QUARANTINE
from tests.collector.conftest import make_config
from tests.collector.test_spool_contract import pts
from tests.support.receiver import Receiver, point_key, wait_until


class SeqCollector:
    """One uniquely numbered point per call; `poison_at` marks one point the server refuses."""

    def __init__(self, poison_at: int = -1) -> None:
        self.n = 0
        self.poison_at = poison_at
        self.lock = threading.Lock()

    def collect(self, now: float) -> list[Point]:
        with self.lock:
            self.n += 1
            tags = {"poison": "yes"} if self.n == self.poison_at else {}
            return [Point("seq", float(self.n), tags, {"n": self.n})]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_agent(agent: Agent) -> threading.Thread:
    t = threading.Thread(target=agent.run, kwargs={"install_signals": False}, daemon=True)
    t.start()
    return t


def delivered_once(receiver: Receiver, produced: int) -> bool:
    got = sorted(
        int(p["fields"]["n"]) for p in receiver.accepted_points() if p["measurement"] == "seq"
    )
    return got == list(range(1, produced + 1))


def test_wire_body_headers_and_no_host_identity(tmp_path: Path, receiver: Receiver) -> None:
    spool = FileSpool(str(tmp_path))
    bid = spool.add(pts("a", 3))
    sender = Sender(receiver.url, "secret-key")
    Delivery(spool, sender, threading.Event(), threading.Event()).drain_once()
    (req,) = receiver.requests
    assert req.headers["Authorization"] == "Bearer secret-key"
    assert req.headers["Content-Encoding"] == "gzip"
    assert req.headers["Content-Type"] == "application/json"
    doc = req.json()
    assert set(doc) == {"batch_id", "agent", "points"}
    assert doc["batch_id"] == bid
    assert doc["agent"] == {
        "version": "1.0.0",
        "dropped_points": 0,
        "dropped": {},
        "quarantined_files": 0,
        "clock_offset_s": 0.0,
    }
    assert doc["points"] == pts("a", 3)
    assert "host" not in json.dumps(doc)
    assert spool.stats()[0] == 0


def test_server_down_then_back_every_point_exactly_once(tmp_path: Path) -> None:
    port = free_port()
    config = make_config(tmp_path, url=f"http://127.0.0.1:{port}")
    seq = SeqCollector()
    agent = Agent(config, "k", collectors=[Running("seq", 0.05, seq)])
    thread = run_agent(agent)
    time.sleep(1.5)  # nothing listens: connection refused, batches pile up in the spool
    assert agent.spool.stats()[0] > 1
    receiver = Receiver(port=port, status=202).start()
    try:
        time.sleep(0.5)
        agent.request_stop()
        thread.join(5)
        produced = seq.n
        agent2 = Agent(config, "k", collectors=[])
        t2 = run_agent(agent2)
        assert wait_until(lambda: delivered_once(receiver, produced), timeout=15)
        agent2.request_stop()
        t2.join(5)
        # Replay merged the backlog: far fewer requests than spooled batches.
        assert len(receiver.accepted()) < produced
    finally:
        receiver.stop()


def test_429_honours_retry_after_and_resends_the_same_batch(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.responder = lambda n, body: (429, {"Retry-After": "1"}) if n == 0 else (202, {})
    spool = FileSpool(str(tmp_path))
    spool.add(pts("a", 2))
    d = Delivery(
        spool,
        Sender(receiver.url, "k"),
        threading.Event(),
        threading.Event(),
        retry_initial=0.01,
        retry_max=0.05,
    )
    d.drain_once()
    first, second = receiver.requests
    assert (first.status, second.status) == (429, 202)
    assert first.json()["batch_id"] == second.json()["batch_id"]
    assert second.at - first.at >= 0.95


def test_500_storm_retries_with_backoff_then_delivers_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.responder = lambda n, body: (500, {}) if n < 6 else (202, {})
    spool = FileSpool(str(tmp_path))
    for t in "abc":
        spool.add(pts(t, 2))
    d = Delivery(
        spool,
        Sender(receiver.url, "k"),
        threading.Event(),
        threading.Event(),
        retry_initial=0.01,
        retry_max=0.05,
    )
    d.drain_once()
    assert [r.status for r in receiver.requests[:6]] == [500] * 6
    assert len({r.json()["batch_id"] for r in receiver.requests}) == 1  # merged once, resent as is
    assert sorted(map(point_key, receiver.accepted_points())) == sorted(
        map(point_key, pts("a", 2) + pts("b", 2) + pts("c", 2))
    )


def test_poison_point_is_quarantined_alone_not_retried(tmp_path: Path, receiver: Receiver) -> None:
    def policy(n: int, body: dict[str, Any]) -> tuple[int, dict[str, str]]:
        poisoned = any(p["tags"].get("poison") for p in body["points"])
        return (400, {}) if poisoned else (202, {})

    receiver.responder = policy
    config = make_config(tmp_path, url=receiver.url)
    seq = SeqCollector(poison_at=3)
    agent = Agent(config, "k", collectors=[Running("seq", 0.05, seq)])
    thread = run_agent(agent)
    assert wait_until(lambda: seq.n > 20 and len(receiver.accepted()) > 3, timeout=10)
    agent.request_stop()
    thread.join(5)
    poisoned = [r for r in receiver.requests if r.status == 400]
    # The batch holding it was split until the point stood alone, refused once, set aside,
    # never sent again; its neighbours were delivered.
    alone = [r for r in poisoned if len(r.json()["points"]) == 1]
    assert len(alone) == 1
    assert receiver.requests.index(alone[0]) == max(map(receiver.requests.index, poisoned))
    got = {p["fields"]["n"] for p in receiver.accepted_points() if p["measurement"] == "seq"}
    assert 3 not in got
    assert {1, 2, 4, 5} <= got
    qdir = tmp_path / "spool" / QUARANTINE
    quarantined = [n for n in os.listdir(qdir) if n.endswith(".json")]
    assert len(quarantined) == 1
    assert json.loads((qdir / quarantined[0]).read_text())["points"][0]["fields"]["n"] == 3
    assert (qdir / f"{quarantined[0]}.reason").read_text().startswith("HTTP 400")
    assert agent.stats.batches_quarantined == 1
    assert agent.spool.ledger.snapshot() == ({"rejected": 1}, 1)


def test_slow_server_never_delays_collection(tmp_path: Path, receiver: Receiver) -> None:
    receiver.delay = 0.8  # longer than the agent's timeout: every request times out first
    config = make_config(
        tmp_path, url=receiver.url, server={"timeout": 0.3, "retry_initial": 0.05, "retry_max": 0.1}
    )
    seq = SeqCollector()
    agent = Agent(config, "k", collectors=[Running("seq", 0.05, seq)])
    thread = run_agent(agent)
    time.sleep(2.0)
    collected_while_slow = seq.n
    receiver.delay = 0.0
    agent.request_stop()
    thread.join(5)
    assert collected_while_slow >= 25  # ~40 expected at 20/s; the sender never blocked it
    produced = seq.n
    agent2 = Agent(config, "k", collectors=[])
    t2 = run_agent(agent2)
    # Timed-out requests still reached the server: dedup by batch id keeps every point once.
    assert wait_until(lambda: delivered_once(receiver, produced), timeout=15)
    agent2.request_stop()
    t2.join(5)


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    assert [backoff_delay(a, 1.0, 60.0, lambda: 1.0) for a in range(8)] == [
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        60.0,
        60.0,
    ]
    assert backoff_delay(3, 1.0, 60.0, lambda: 0.25) == 2.0
    assert backoff_delay(100, 1.0, 60.0, lambda: 0.5) == 30.0


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("7", 0.0) == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0) == 10.0
    assert parse_retry_after("soon", 0.0) is None
    assert parse_retry_after(None, 0.0) is None


def test_gzip_body_decodes(tmp_path: Path) -> None:
    from fleetmon_agent.drops import SPOOL_FULL, UNREADABLE, DropLedger
    from fleetmon_agent.sender import encode
    from fleetmon_agent.spool import Batch

    ledger = DropLedger()
    ledger.add(SPOOL_FULL, 5)
    ledger.add(UNREADABLE, 2, files=1)
    body = json.loads(gzip.decompress(encode(Batch("id", pts("a", 1)), ledger)))
    assert body["agent"]["dropped_points"] == 7
    assert body["agent"]["dropped"] == {"spool_full": 5, "unreadable": 2}
    assert body["agent"]["quarantined_files"] == 1


def test_backlog_replay_merges_and_gives_fresh_data_a_fair_share() -> None:
    from fleetmon_agent.spool import MemorySpool

    spool = MemorySpool()
    for i in range(1728):  # a 2.4 h backlog of 5-second batches, 100 points each
        spool.add(pts(f"b{i:04d}", 100))
    requests: list[tuple[int, str]] = []

    class Recorder(Sender):
        def send(self, batch: Any, ledger: Any) -> tuple[str, float | None, str]:
            requests.append((len(batch.points), batch.points[0]["tags"]["b"]))
            return "ack", None, "HTTP 202"

    d = Delivery(
        spool,
        Recorder("http://127.0.0.1:9", "k"),
        threading.Event(),
        threading.Event(),
        max_request_points=20000,
        fresh_share=0.5,
    )
    d.drain_once()
    assert sum(n for n, _ in requests) == 172800
    assert len(requests) == 9  # 1728 files in 9 requests: minutes, not hours, at 100 req/min
    # Alternating ends: the second request already carries the newest data.
    assert requests[0][1] == "b0000"
    assert requests[1][1] == "b1528"


def test_spool_full_drops_oldest_and_reports_the_count(tmp_path: Path, receiver: Receiver) -> None:
    spool = FileSpool(str(tmp_path), max_bytes=10_000)
    for i in range(40):
        spool.add(pts(f"t{i:02d}", 5))
    dropped = spool.dropped_points
    assert dropped > 0
    assert dropped % 5 == 0
    Delivery(spool, Sender(receiver.url, "k"), threading.Event(), threading.Event()).drain_once()
    assert {r.json()["agent"]["dropped_points"] for r in receiver.requests} == {dropped}
    got = {p["tags"]["b"] for p in receiver.accepted_points()}
    assert "t39" in got
    assert "t00" not in got
    assert len(got) == 40 - dropped // 5


def test_sender_reads_proxies_and_ca_bundle_from_the_environment_once(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    for var in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/fleetmon/ca.pem")
    sender = Sender("http://fleetmon.example.com", "k")
    assert sender.session.proxies == {"http": "http://proxy.invalid:3128"}
    assert sender.session.verify == "/etc/fleetmon/ca.pem"
    assert not sender.session.trust_env  # not re-read (nor ~/.netrc) on every request
    assert (
        Sender("http://fleetmon.example.com", "k", verify="/own.pem").session.verify == "/own.pem"
    )
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert Sender(receiver.url, "k").session.proxies == {}
    outcome, _, _ = Sender(receiver.url, "k").send(Batch("b1", pts("a", 2)), DropLedger())
    assert outcome == "ack"
    assert receiver.requests[0].headers["Content-Encoding"] == "gzip"
