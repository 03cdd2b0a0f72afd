"""The sample notification a channel test sends: shaped like a firing alert, marked as a test."""

from __future__ import annotations

from datetime import datetime
from typing import Any

TEST_RULE = "Test notification"
TEST_HOST = "test-host"
# Event status of a test: never a state of any alert, so history and boards can tell it apart.
TEST_STATUS = "test"


def sample_payload(channel: str, public_url: str, now: datetime, by: str) -> dict[str, Any]:
    """A firing-alert payload naming the channel and who asked for it (no real host or data)."""
    at = now.isoformat()
    return {
        "status": "firing",
        "repeat": False,
        "test": True,
        "rule": TEST_RULE,
        "rule_id": 0,
        "kind": "threshold",
        "severity": "info",
        "host": TEST_HOST,
        "fingerprint": "test",
        "metric": "cpu.usage_active",
        "aggregate": "avg",
        "window_s": 60,
        "comparison": ">",
        "threshold": 80.0,
        "value": 92.5,
        "since": at,
        "at": at,
        "ended_at": None,
        "labels": {},
        "annotations": {
            "summary": f"Test notification from fleetmon to channel {channel}, sent by {by}"
        },
        "host_url": f"{public_url.rstrip('/')}/hosts/{TEST_HOST}",
        "top_processes": {"cpu": [], "memory": []},
    }
