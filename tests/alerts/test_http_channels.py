"""Slack, Discord and webhook channels against a local HTTP receiver, through the outbox."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts.channels import discord, ntfy, slack
from fleetmon_alerts.clock import SystemClock
from fleetmon_alerts.delivery import Dispatcher, RetryPolicy
from fleetmon_db.alerting import SEVERITIES
from tests.alerts.helpers import add_channel, enqueue, notifications, sample_payload
from tests.support.receiver import Receiver

FAST = RetryPolicy(base_s=0.05, max_s=0.5, max_attempts=4)


def dispatcher(sessions: sessionmaker[Session]) -> Dispatcher:
    return Dispatcher(sessions, SystemClock(), policy=FAST)


def check_block_kit(doc: dict[str, Any]) -> None:
    """The message is valid Block Kit carrying what an on-call person needs."""
    assert isinstance(doc["text"], str)
    assert doc["text"]
    blocks = doc["blocks"]
    assert 1 <= len(blocks) <= 50
    assert all(b["type"] in {"header", "section", "actions", "context", "divider"} for b in blocks)
    header = blocks[0]
    assert header["type"] == "header"
    assert header["text"]["type"] == "plain_text"
    assert len(header["text"]["text"]) <= 150
    fields = next(b for b in blocks if b["type"] == "section" and "fields" in b)["fields"]
    assert len(fields) <= 10
    assert all(f["type"] == "mrkdwn" for f in fields)
    text = " ".join(f["text"] for f in fields)
    assert "warning" in text  # severity
    assert "web-1" in text  # host
    assert "3.50" in text
    assert "&lt; 20" in text  # `<` escaped for mrkdwn
    assert "Firing since" in text
    assert "12:00 UTC" in text
    assert "2026-01-01T" not in text  # a person's time, not an ISO stamp
    button = next(b for b in blocks if b["type"] == "actions")["elements"][0]
    assert button["url"] == "http://fleetmon.test/hosts/web-1"
    all_text = str(blocks)
    assert "python3" in all_text
    assert "postgres" in all_text


def test_slack_block_kit_and_429_retry_after_honoured(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    def answer(n: int, doc: dict[str, Any]) -> tuple[int, dict[str, str]] | None:
        return (429, {"Retry-After": "1"}) if n == 0 else None

    receiver.responder = answer
    ch = add_channel(sessions, "slack", "slack", {"webhook_url": receiver.url + "/services/T/B/X"})
    enqueue(sessions, ch, sample_payload())
    enqueue(sessions, ch, sample_payload(host="web-2"))
    d = dispatcher(sessions)
    try:
        assert d.drain(15)
    finally:
        d.stop()
    got = receiver.requests
    assert [r.status for r in got] == [429, 200, 200]
    # Retry-After: 1 blocks the whole webhook for a second, then 1 message per second.
    assert got[1].at - got[0].at >= 0.95
    assert got[2].at - got[1].at >= 0.95
    for r in got:
        assert r.path == "/services/T/B/X"
        check_block_kit(r.json())
    rows = notifications(sessions)
    assert [r.status for r in rows] == ["sent", "sent"]
    assert rows[0].attempts == 2
    assert rows[0].last_error is None


def test_slack_resolved_message(sessions: sessionmaker[Session], receiver: Receiver) -> None:
    ch = add_channel(sessions, "slack", "slack", {"webhook_url": receiver.url})
    enqueue(sessions, ch, sample_payload("resolved"))
    d = dispatcher(sessions)
    try:
        assert d.drain(10)
    finally:
        d.stop()
    doc = receiver.wait_for(1)[0].json()
    assert doc["blocks"][0]["text"]["text"].startswith(":white_check_mark: [RESOLVED]")
    assert "Top processes" not in str(doc)


def test_webhook_hmac_signature(sessions: sessionmaker[Session], receiver: Receiver) -> None:
    ch = add_channel(sessions, "hook", "webhook", {"url": receiver.url + "/hook", "secret": "s3"})
    enqueue(sessions, ch, sample_payload())
    d = dispatcher(sessions)
    try:
        assert d.drain(10)
    finally:
        d.stop()
    req = receiver.wait_for(1)[0]
    headers = {k.lower(): v for k, v in req.headers.items()}
    ts = headers["x-fleetmon-timestamp"]
    expected = hmac.new(b"s3", ts.encode() + b"." + req.body, hashlib.sha256).hexdigest()
    assert headers["x-fleetmon-signature"] == f"sha256={expected}"
    doc = req.json()
    assert doc["version"] == 1
    assert doc["host"] == "web-1"
    assert doc["status"] == "firing"


def test_discord_embed(sessions: sessionmaker[Session], receiver: Receiver) -> None:
    ch = add_channel(
        sessions, "discord", "discord", {"webhook_url": receiver.url + "/api/webhooks/1/x"}
    )
    enqueue(sessions, ch, sample_payload(severity="critical"))
    d = dispatcher(sessions)
    try:
        assert d.drain(10)
    finally:
        d.stop()
    doc = receiver.wait_for(1)[0].json()
    embed = doc["embeds"][0]
    assert embed["title"] == "[FIRING] CPU usage high on web-1"
    assert embed["color"] == 0xD32F2F
    assert embed["url"].endswith("/hosts/web-1")
    names = {f["name"] for f in embed["fields"]}
    assert names >= {"Severity", "Host", "Value at 12:00 UTC", "Firing since"}


def test_failing_channel_does_not_block_another(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    slow = Receiver(status=500, delay=3).start()
    try:
        bad = add_channel(sessions, "bad", "webhook", {"url": slow.url})
        good = add_channel(sessions, "good", "webhook", {"url": receiver.url})
        enqueue(sessions, bad, sample_payload())
        enqueue(sessions, good, sample_payload())
        d = Dispatcher(sessions, SystemClock(), policy=FAST)
        started = time.monotonic()
        try:
            d.pump()
            receiver.wait_for(1, timeout=2)
            assert time.monotonic() - started < 1.5  # not held behind the 3 s channel
        finally:
            d.stop(timeout_s=0.1)
    finally:
        slow.stop()


def test_permanent_error_gives_up_without_retrying(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    receiver.responder = lambda n, d: (404, {})
    ch = add_channel(sessions, "hook", "webhook", {"url": receiver.url})
    enqueue(sessions, ch, sample_payload())
    d = dispatcher(sessions)
    try:
        assert d.drain(10)
    finally:
        d.stop()
    row = notifications(sessions)[0]
    assert row.status == "failed"
    assert row.attempts == 1
    assert row.last_error is not None
    assert receiver.url not in row.last_error


def test_retries_with_backoff_until_success(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    receiver.responder = lambda n, d: (503, {}) if n < 2 else None
    ch = add_channel(sessions, "hook", "webhook", {"url": receiver.url})
    enqueue(sessions, ch, sample_payload())
    d = dispatcher(sessions)
    try:
        assert d.drain(10)
    finally:
        d.stop()
    row = notifications(sessions)[0]
    assert row.status == "sent"
    assert row.attempts == 3
    assert [r.status for r in receiver.requests] == [503, 503, 200]


@pytest.mark.parametrize(
    "table", [discord.COLOURS, slack.EMOJI, ntfy.PRIORITY, ntfy.EMOJI], ids=repr
)
def test_per_severity_styles_cover_every_severity(table: dict[str, object]) -> None:
    assert set(table) == set(SEVERITIES)
