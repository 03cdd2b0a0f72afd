"""Agent- and user-chosen text cannot add markup to a notification (issue 15.5).

Each attack is a value a host or an admin can choose: a process name (a `procstat` tag
value), a host label spliced into an annotation template, a rule name. The messages go
through the outbox to local receivers shaped like the real services."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts import templating
from fleetmon_alerts.clock import SystemClock
from fleetmon_alerts.delivery import Dispatcher, RetryPolicy
from tests.alerts.helpers import add_channel, enqueue, notifications, sample_payload
from tests.support.receiver import Receiver
from tests.support.slack import SlackWebhook

FAST = RetryPolicy(base_s=0.05, max_s=0.5, max_attempts=2)

# What a hostile host can name a process (tag values refuse only control characters).
EVIL_PROCESS = "x & `y` ```\n*PWNED* <!channel> <http://evil.test|click>"
# What a hostile agent can put in its labels at enrollment (any text up to 256 chars).
EVIL_LABEL = (
    "db <!here> <https://evil.test/login|Reset your password> @everyone [x](http://evil.test)"
)
# An admin-written template using that label, as rule annotations are.
SUMMARY = "Disk almost full on $host (role $label_role)"


def hostile_payload() -> dict[str, Any]:
    ctx = templating.context(
        rule="Disk full",
        host="web-1",
        severity="critical",
        value=97.0,
        threshold=90.0,
        comparison=">",
        metric="disk.used_percent",
        host_labels={"role": EVIL_LABEL},
    )
    return sample_payload(
        rule="Disk <!channel> full",
        annotations=templating.render({"summary": SUMMARY}, ctx),
        top_processes={
            "cpu": [{"name": EVIL_PROCESS, "pid": "42", "value": 91.0}],
            "memory": [{"name": "ok", "pid": "<@U123>", "value": 1.0}],
        },
    )


def deliver(sessions: sessionmaker[Session], kind: str, url: str) -> None:
    ch = add_channel(sessions, kind, kind, {"webhook_url": url})
    enqueue(sessions, ch, hostile_payload())
    d = Dispatcher(sessions, SystemClock(), policy=FAST)
    try:
        assert d.drain(10)
    finally:
        d.stop()
    assert [n.status for n in notifications(sessions)] == ["sent"]


@pytest.fixture
def slack() -> Iterator[SlackWebhook]:
    hook = SlackWebhook().start()
    yield hook
    hook.stop()


def mrkdwn_texts(doc: dict[str, Any]) -> list[str]:
    """Every string Slack reads as mrkdwn: the fallback and each mrkdwn text object."""
    found = [doc["text"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
                assert node.get("verbatim") is True  # no automatic mention parsing
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc["blocks"])
    return found


def test_slack_message_carries_no_injected_mention_link_or_code_block(
    sessions: sessionmaker[Session], slack: SlackWebhook
) -> None:
    deliver(sessions, "slack", slack.url)
    doc = slack.messages[0]
    texts = mrkdwn_texts(doc)
    # Slack parses `<...>` as a link, a mention or `<!channel>`: the only one is our host link.
    sequences = [seq for t in texts for seq in re.findall(r"<[^>]*>", t)]
    assert sequences == ["<http://fleetmon.test/hosts/web-1|web-1>"]
    joined = "\n".join(texts)
    assert "&lt;!channel&gt;" in joined  # shown as text, not a mention
    assert "&lt;https://evil.test/login|Reset your password&gt;" in joined
    assert "&amp;" in joined
    # The process name stays inside its code block: one opening and one closing fence.
    procs = next(t for t in texts if "Top processes by CPU" in t)
    assert procs.count("```") == 4  # two blocks (CPU, memory), each opened and closed
    assert "*PWNED*" in procs.split("```")[1]  # inside the first block, where * is literal
    assert "\n*PWNED*" not in procs  # the newline in the name did not start a line


def test_discord_message_pings_nobody_and_renders_no_link(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    deliver(sessions, "discord", receiver.url + "/api/webhooks/1/x")
    doc = receiver.wait_for(1)[0].json()
    assert doc["allowed_mentions"] == {"parse": []}
    embed = doc["embeds"][0]
    rendered = [doc["content"], embed["description"], *(f["value"] for f in embed["fields"])]
    for text in rendered:
        # Every markdown-active character is escaped with a backslash.
        assert not re.search(r"(?<!\\)[<\[\]()*`_~|@]", text), text
    assert r"\[x\]\(http://evil.test\)" in embed["description"]
    assert r"\<!channel\>" in doc["content"]
