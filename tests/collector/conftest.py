"""Fixtures for the agent tests: a real loopback receiver and quick configurations."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetmon_agent.config import Config, build
from tests.support.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver answering 202 unless the test sets a responder."""
    r = Receiver(status=202).start()
    yield r
    r.stop()


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Child processes started by a test; killed if the test left them running."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait()
        for stream in (p.stdout, p.stderr):
            if stream is not None:
                stream.close()


def make_config(tmp_path: Path, url: str = "http://127.0.0.1:9", **sections: Any) -> Config:
    """A validated config with a temp spool and fast retries; `sections` override keys."""
    raw: dict[str, Any] = {
        "server": {
            "url": url,
            "api_key": "test-key",
            "retry_initial": 0.05,
            "retry_max": 0.2,
            "timeout": 2,
        },
        "spool": {"dir": str(tmp_path / "spool")},
        "batch": {"flush_interval": 0.2},
    }
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return build(raw, {}, "<test>")
