"""A new user goes from `make run` to a Slack notification using only the web UI.

`fleetmon up` runs for real (API, alert worker, local agent collecting this machine's
metrics); the person signs in with the printed credentials, adds a Slack channel and tests
it, writes a rule, previews it, saves it, and the alert reaches Slack. Slack's servers cannot
be reached from here: a local stand-in (tests/support/slack.py) takes the webhook and refuses
any message Slack would refuse. Screenshots go to build/ui-shots/ (or $FLEETMON_UI_SHOTS).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from fleetmon_alerts.channels.slack import blocks
from tests.alerts.helpers import sample_payload
from tests.support.servers import free_port, stop_process, wait_http
from tests.support.shots import shots_dir
from tests.support.slack import Refused, SlackWebhook, check_message

FLEETMON = str(Path(sys.executable).parent / "fleetmon")
CHROMIUM = "/usr/bin/chromium"


def test_slack_stand_in_refuses_what_slack_refuses() -> None:
    check_message(blocks(sample_payload()))
    check_message(blocks(sample_payload("resolved")))
    bad: list[Any] = [
        {},
        {"blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}]},
        {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]},
        {"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}]},
        {"blocks": [{"type": "actions", "elements": [
            {"type": "button", "url": "javascript:1", "text": {"type": "plain_text", "text": "x"}},
        ]}]},
        {"blocks": [{"type": "carousel"}]},
    ]  # fmt: skip
    for doc in bad:
        with pytest.raises(Refused):
            check_message(doc)


@pytest.fixture
def slack() -> Iterator[SlackWebhook]:
    hook = SlackWebhook().start()
    yield hook
    hook.stop()


def _header(message: dict[str, Any]) -> str:
    return str(message["blocks"][0]["text"]["text"])


def test_from_make_run_to_a_slack_notification(tmp_path: Path, slack: SlackWebhook) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        FLEETMON_DATA_DIR=str(tmp_path / "data"),
        FLEETMON_PORT=str(port),
        # The worker evaluates every second instead of every 15 s: the story, not the wait.
        FLEETMON_ALERTS_INTERVAL="1",
    )
    env.pop("FLEETMON_SECRET_KEY", None)
    out = tmp_path / "up.out"
    shots = shots_dir()
    with out.open("wb") as sink:
        proc = subprocess.Popen([FLEETMON, "up"], env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_http(f"{url}/health", proc=proc)
        deadline = time.monotonic() + 20
        while "started local agent" not in out.read_text():
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        printed = out.read_text()
        creds = re.search(r"admin user: (\S+)\s+password: (\S+)", printed)
        assert creds is not None, printed
        assert f"web UI:     {url}/" in printed
        host = socket.gethostname()

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{url}/")
            page.get_by_label("Username").fill(creds.group(1))
            page.get_by_label("Password").fill(creds.group(2))
            page.get_by_role("button", name="Sign in").click()
            # The local agent shows up on the overview, up: its first batch has arrived (the
            # row exists from enrollment on, before any data).
            expect(page.locator(f"#fleet-table tr[data-host='{host}'].row-up")).to_be_visible(
                timeout=30_000
            )

            # 1. A Slack channel, tested.
            page.get_by_role("link", name="Channels").click()
            page.locator("#new-channel").click()
            page.get_by_label("Name").fill("team-slack")
            page.get_by_label("Kind").select_option("slack")
            page.get_by_label("webhook_url").fill(slack.url)
            page.locator("#channel-save").click()
            row = page.locator("#channels-table tr[data-channel='team-slack']")
            expect(row).to_contain_text("webhook_url (secret, set)")
            row.get_by_role("button", name="Test team-slack").click()
            expect(row.locator(".test-state")).to_have_text("Sent ✓", timeout=30_000)
            test_msg = slack.wait_for(lambda m: "Test notification" in _header(m))
            assert "team-slack" in str(test_msg["blocks"])
            page.screenshot(path=str(shots / "story-channel.png"), full_page=True)

            # 2. A rule that holds on this machine now, previewed, then saved.
            page.get_by_role("link", name="Rules", exact=True).click()
            page.locator("#new-rule").click()
            page.get_by_label("Name").fill("Memory in use")
            page.get_by_label("Metric").fill("mem.used_percent")
            page.get_by_label("Comparison").select_option(">")
            page.get_by_label("Threshold").fill("0")
            page.get_by_label("Over the last").fill("2m")
            page.get_by_label("Severity").select_option("critical")
            page.get_by_label("Summary").fill("Memory $value % used on $host")
            page.locator("#r-channels").get_by_label("team-slack").check()
            page.locator("#rule-preview").click()
            expect(page.locator("#preview-verdict")).to_contain_text(
                "Would fire on 1 host now", timeout=30_000
            )
            expect(page.locator(f"#preview-hosts tr[data-host='{host}']")).to_contain_text("holds")
            page.screenshot(path=str(shots / "story-rule.png"), full_page=True)
            page.locator("#rule-save").click()
            expect(page.locator("#rules-table tr[data-rule='Memory in use']")).to_be_visible()

            # 3. The alert reaches Slack, as Slack would post it.
            msg = slack.wait_for(lambda m: "Memory in use" in _header(m), timeout=60)
            assert _header(msg).startswith(":red_circle:")
            fields = " ".join(f["text"] for f in msg["blocks"][1]["fields"])
            assert "*Severity*\ncritical" in fields
            assert f"<{url}/hosts/{host}|{host}>" in fields
            summary = msg["blocks"][2]["text"]["text"]
            assert summary.startswith("Memory ")
            assert f"used on {host}" in summary
            button = next(b for b in msg["blocks"] if b["type"] == "actions")["elements"][0]
            assert button["url"] == f"{url}/hosts/{host}"
            assert msg["text"].startswith("[FIRING")
            assert slack.refused == []

            # 4. The UI shows the alert firing.
            page.get_by_role("link", name="Alerts").first.click()
            alert = page.locator(
                f"#active-alerts tr[data-rule='Memory in use'][data-host='{host}']"
            )
            expect(alert).to_contain_text("firing")
            page.screenshot(path=str(shots / "story-alert.png"), full_page=True)
            assert errors == []
            browser.close()
    finally:
        stop_process(proc, timeout=20)
