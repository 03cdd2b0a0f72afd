"""Times in notifications as people read them, in every channel's text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleetmon_alerts import escape, humantime
from fleetmon_alerts.channels import discord, email, ntfy, slack
from tests.alerts.helpers import sample_payload

AT = datetime(2026, 11, 30, 14, 37, 12, 345678, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "under a minute"),
        (59.9, "under a minute"),
        (60, "1 min"),
        (35 * 60 + 59, "35 min"),
        (3600, "1 h"),
        (2 * 3600 + 5 * 60, "2 h 5 min"),
        (86_400, "1 d"),
        (3 * 86_400 + 4 * 3600 + 59, "3 d 4 h"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert humantime.duration(seconds) == text


def test_clock_time_names_the_day_only_when_it_differs() -> None:
    assert humantime.clock_time(AT - timedelta(minutes=35), AT) == "14:02 UTC"
    assert humantime.clock_time(AT - timedelta(days=1), AT) == "29 Nov 14:37 UTC"
    assert humantime.clock_time(AT - timedelta(days=400), AT) == "26 Oct 2025 14:37 UTC"
    # A naive time is UTC (SQLite gives them back without a zone).
    assert humantime.clock_time(datetime(2026, 11, 30, 9, 5), AT) == "09:05 UTC"


def firing() -> dict[str, object]:
    return sample_payload(
        since=(AT - timedelta(minutes=35)).isoformat(), at=AT.isoformat(), repeat=True
    )


def resolved() -> dict[str, object]:
    return sample_payload(
        "resolved",
        since=(AT - timedelta(minutes=38)).isoformat(),
        at=AT.isoformat(),
        ended_at=AT.isoformat(),
    )


def test_since_text() -> None:
    assert humantime.since_text(firing()) == "14:02 UTC (35 min)"
    assert humantime.since_text(resolved()) == "14:37 UTC (after 38 min)"
    assert humantime.value_label(firing()) == "Value at 14:37 UTC"


@pytest.mark.parametrize("payload", [firing(), resolved()], ids=["firing", "resolved"])
def test_every_text_channel_shows_human_times(payload: dict[str, object]) -> None:
    texts = {
        "slack": str(slack.blocks(payload)),
        "email": email.message(payload, "a@example.test", ["b@example.test"]).as_string(),
        "discord": " ".join(f["value"] for f in discord.message(payload)["embeds"][0]["fields"]),
        "ntfy": str(ntfy.message(payload, "alerts")["message"]),
    }
    want = humantime.since_text(payload)
    for name, text in texts.items():
        # Discord shows a backslash-escaped character as itself ("\\(" reads "(").
        assert (escape.discord(want) if name == "discord" else want) in text, name
        assert ".345678" not in text, name  # no microseconds
        assert "2026-11-30T" not in text, name  # no ISO stamps
