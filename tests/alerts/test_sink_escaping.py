"""Agent- and user-chosen text cannot add markup to a notification (issue 15.5).

Each attack is a value a host or an admin can choose: a process name (a `procstat` tag
value, as ingest accepts it: no control characters), a host label (chosen by the agent at
enrollment) spliced into the admin's annotation template, a rule name. The real evaluator
fires the rule from the store; the outbox delivers to local receivers shaped like the real
services."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts.clock import SystemClock, to_ns
from fleetmon_alerts.delivery import Dispatcher, RetryPolicy
from fleetmon_alerts.evaluate import Evaluator
from fleetmon_db.timeseries import Point, TimeSeriesStore
from tests.alerts.helpers import add_channel, add_host, add_rule, notifications
from tests.support.clock import FakeClock
from tests.support.receiver import Receiver
from tests.support.slack import SlackWebhook

FAST = RetryPolicy(base_s=0.05, max_s=0.5, max_attempts=2)

# What a hostile host can name a process (tag values refuse only control characters).
EVIL_PROCESS = "x & `y` ```*PWNED* <!channel> <http://evil.test|click>"
# What a hostile agent can put in its labels at enrollment (any text up to 256 chars).
EVIL_LABEL = (
    "db <!here> <https://evil.test/login|Reset your password> @everyone [x](http://evil.test)"
)


def fire(
    sessions: sessionmaker[Session], store: TimeSeriesStore, clock: FakeClock, kind: str, url: str
) -> None:
    """A rule (admin template using the agent's label) fires for the hostile host; its
    notification is delivered to one channel of `kind`."""
    add_host(sessions, "web-1", {"role": EVIL_LABEL})
    add_rule(
        sessions,
        name="Disk <!channel> full",
        metric="cpu.usage_idle",
        aggregate="avg",
        window_s=60,
        comparison="<",
        threshold=20.0,
        for_s=0,
        severity="critical",
        annotations={"summary": "CPU busy on $host (role $label_role)"},
    )
    add_channel(sessions, kind, kind, {"webhook_url": url})
    now = clock.now()
    points = [
        Point("web-1", "cpu", to_ns(now - timedelta(seconds=s)), {"cpu": "cpu-total"},
              {"usage_idle": 3.0})
        for s in (0, 10, 20)
    ]  # fmt: skip
    points.append(
        Point("web-1", "procstat", to_ns(now), {"process_name": EVIL_PROCESS, "pid": "42"},
              {"cpu_usage": 99.0, "memory_usage": 1.5})
    )  # fmt: skip
    store.write(points)
    fired = Evaluator(sessions, store, clock, "http://fleetmon.test").run_once()
    assert [(d.host, d.to_status) for d in fired] == [("web-1", "firing")]
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
    sessions: sessionmaker[Session],
    sqlite_store: TimeSeriesStore,
    clock: FakeClock,
    slack: SlackWebhook,
) -> None:
    fire(sessions, sqlite_store, clock, "slack", slack.url)
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


def test_discord_message_pings_nobody_and_renders_no_link(
    sessions: sessionmaker[Session],
    sqlite_store: TimeSeriesStore,
    clock: FakeClock,
    receiver: Receiver,
) -> None:
    fire(sessions, sqlite_store, clock, "discord", receiver.url + "/api/webhooks/1/x")
    doc = receiver.wait_for(1)[0].json()
    assert doc["allowed_mentions"] == {"parse": []}
    embed = doc["embeds"][0]
    rendered = [doc["content"], embed["description"], *(f["value"] for f in embed["fields"])]
    for text in rendered:
        # Every markdown-active character is escaped with a backslash.
        assert not re.search(r"(?<!\\)[<\[\]()*`_~|@]", text), text
    assert r"\[x\]\(http://evil.test\)" in embed["description"]
    assert r"\<!channel\>" in doc["content"]
