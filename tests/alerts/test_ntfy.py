"""The ntfy channel against a local receiver, checked against ntfy's documented JSON publish
format (https://docs.ntfy.sh/publish/#publish-as-json), through the outbox."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts.channels import ChannelContext, ConfigError, build, ntfy
from fleetmon_alerts.clock import SystemClock
from fleetmon_alerts.delivery import Dispatcher, RetryPolicy
from tests.alerts.helpers import add_channel, enqueue, notifications, sample_payload
from tests.support.receiver import Receiver

# Field -> type of ntfy's JSON publish format; `topic` is the only required one.
NTFY_FIELDS: dict[str, type | tuple[type, ...]] = {
    "topic": str,
    "message": str,
    "title": str,
    "tags": list,
    "priority": int,
    "actions": list,
    "click": str,
    "attach": str,
    "markdown": bool,
    "icon": str,
    "filename": str,
    "delay": str,
    "email": str,
    "call": str,
}


def check_ntfy_publish(doc: dict[str, Any]) -> None:
    """The body is a valid ntfy JSON publish request that stays a plain notification."""
    assert set(doc) <= set(NTFY_FIELDS), set(doc) - set(NTFY_FIELDS)
    for key, value in doc.items():
        assert isinstance(value, NTFY_FIELDS[key]), key
    assert doc["topic"]
    assert 1 <= doc["priority"] <= 5
    assert all(isinstance(t, str) and "," not in t for t in doc["tags"])
    assert len(doc["message"].encode()) <= 4096  # longer ones become attachments
    assert len(doc["actions"]) <= 3
    for action in doc["actions"]:
        assert action["action"] in {"view", "http", "broadcast", "copy"}
        assert isinstance(action["label"], str)
        assert action["url"].startswith(("http://", "https://"))


def deliver(
    sessions: sessionmaker[Session], config: dict[str, Any], payload: dict[str, Any]
) -> None:
    ch = add_channel(sessions, "phone", "ntfy", config)
    enqueue(sessions, ch, payload)
    d = Dispatcher(sessions, SystemClock(), policy=RetryPolicy(0.05, 0.5, 4))
    try:
        assert d.drain(10)
    finally:
        d.stop()
    assert [r.status for r in notifications(sessions)] == ["sent"]


def test_firing_alert_is_published_as_json_to_the_root_url(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    config = {"url": f"{receiver.url}/fleet-alerts", "token": "tk_abc123"}
    deliver(sessions, config, sample_payload(severity="critical"))
    (req,) = receiver.wait_for(1)
    assert req.path == "/"  # JSON goes to the root URL, the topic in the body
    assert req.header("Authorization") == "Bearer tk_abc123"
    assert req.header("Content-Type") == "application/json"
    doc = req.json()
    check_ntfy_publish(doc)
    assert doc["topic"] == "fleet-alerts"
    assert doc["title"] == "[FIRING] CPU usage high on web-1"
    assert doc["priority"] == 5
    assert doc["tags"] == ["rotating_light"]
    assert "3.50 (< 20)" in doc["message"]
    assert "CPU above 80 % on web-1" in doc["message"]
    assert doc["click"] == "http://fleetmon.test/hosts/web-1"
    assert doc["actions"][0]["url"] == "http://fleetmon.test/hosts/web-1"


def test_resolved_on_a_self_hosted_path_without_token(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    deliver(sessions, {"url": f"{receiver.url}/ntfy/ops_1"}, sample_payload("resolved"))
    (req,) = receiver.wait_for(1)
    assert req.path == "/ntfy/"
    assert req.header("Authorization") is None
    doc = req.json()
    check_ntfy_publish(doc)
    assert doc["topic"] == "ops_1"
    assert doc["title"].startswith("[RESOLVED]")
    assert doc["priority"] == 2
    assert doc["tags"] == ["white_check_mark"]


def test_long_summary_stays_a_notification(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    payload = sample_payload(annotations={"summary": "é" * 5000})
    deliver(sessions, {"url": f"{receiver.url}/t"}, payload)
    doc = receiver.wait_for(1)[0].json()
    check_ntfy_publish(doc)
    assert doc["message"].endswith("...")


@pytest.mark.parametrize(
    "config",
    [
        {"url": "https://ntfy.sh/"},  # no topic
        {"url": "https://ntfy.sh/bad topic"},
        {"url": "https://ntfy.sh/" + "t" * 65},
        {"url": "https://ntfy.sh/t", "token": "tk_1\r\nX-Injected: 1"},
        {"url": "https://ntfy.sh/t", "token": 5},
    ],
)
def test_bad_config_is_refused_when_built(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        build("ntfy", config, ChannelContext())


def test_topic_and_token_refuse_a_trailing_newline() -> None:
    with pytest.raises(ConfigError):
        ntfy.split_topic_url("https://ntfy.sh/alerts\n")
    with pytest.raises(ConfigError):
        ntfy.NtfyChannel({"url": "https://ntfy.sh/alerts", "token": "tk_abc\n"}, ChannelContext())
