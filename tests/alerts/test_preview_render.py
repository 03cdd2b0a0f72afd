"""The notification preview renders every channel kind with the channel's own message code."""

from __future__ import annotations

import json

from fleetmon_alerts import preview
from fleetmon_alerts.channels import REGISTRY, log, slack
from fleetmon_alerts.channels.base import headline, value_text
from fleetmon_db.alerting import CHANNELS
from tests.alerts.helpers import sample_payload


def test_every_kind_has_a_renderer() -> None:
    assert set(preview.RENDERERS) == set(CHANNELS) == set(REGISTRY)


def test_renderers_use_the_channels_message_code() -> None:
    payload = sample_payload()
    configs = {
        "email": {"host": "smtp.test", "from": "a@example.test", "to": "b@example.test"},
        "ntfy": {"url": "https://ntfy.example.test/private-topic"},
    }
    for kind in CHANNELS:
        out = preview.render(kind, configs.get(kind, {}), payload, 3600)
        assert out.title, kind
        assert "web-1" in out.body, kind
        if out.format == "json":
            json.loads(out.body)
    assert json.loads(preview.render("slack", {}, payload, 3600).body) == slack.blocks(payload)
    assert preview.render("log", {}, payload, 3600).body == log.line(payload)
    # The ntfy topic is the secret part of the channel's URL: not shown.
    assert "private-topic" not in preview.render("ntfy", configs["ntfy"], payload, 3600).body


def test_titles_read_as_the_receiver_shows_them() -> None:
    payload = {**sample_payload(), "rule": "disk <90% & (rising) *now*"}
    shown = f"{headline(payload)}: {value_text(payload)}"
    slack_out = preview.render("slack", {}, payload, 3600)
    assert slack_out.title == shown
    assert "&lt;90% &amp; (rising)" in json.loads(slack_out.body)["text"]  # as posted
    discord_out = preview.render("discord", {}, payload, 3600)
    assert discord_out.title == headline(payload)
    assert r"\<90% & \(rising\) \*now\*" in json.loads(discord_out.body)["content"]
