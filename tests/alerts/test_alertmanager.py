"""A real Prometheus Alertmanager receives our alert and lists it at /api/v2/alerts."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from fleetmon_alerts.channels import ChannelContext, build
from tests.alerts.helpers import sample_payload
from tests.conftest import server_missing
from tests.support.servers import ServerMissing, free_port, stop_process, wait_http

BINARY = "/usr/bin/prometheus-alertmanager"


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """Alertmanager on a free loopback port, clustering off, storage in tmp."""
    binary = shutil.which("prometheus-alertmanager") or BINARY
    if not Path(binary).exists():
        server_missing(ServerMissing("prometheus-alertmanager is not installed"))
    (tmp_path / "am.yml").write_text(
        "route:\n  receiver: sink\n  group_wait: 1h\nreceivers:\n  - name: sink\n"
    )
    port = free_port()
    log = (tmp_path / "am.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/-/ready", proc=proc)
        yield url
    finally:
        stop_process(proc)
        log.close()


def test_alertmanager_lists_the_alert_then_resolves_it(alertmanager: str) -> None:
    channel = build("alertmanager", {"url": alertmanager}, ChannelContext(timeout_s=5))
    try:
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        channel.send(sample_payload(since=now, at=now))
        alerts = httpx.get(f"{alertmanager}/api/v2/alerts").json()
        assert len(alerts) == 1
        alert = alerts[0]
        assert alert["labels"] == {
            "alertname": "CPU usage high",
            "host": "web-1",
            "severity": "warning",
            "team": "web",
        }
        assert alert["annotations"]["summary"] == "CPU above 80 % on web-1"
        assert alert["status"]["state"] == "active"
        assert alert["generatorURL"] == "http://fleetmon.test/hosts/web-1"
        assert alert["startsAt"].startswith(now[:19])
        channel.send(sample_payload("resolved", since=now, at=now, ended_at=now))
        after = httpx.get(f"{alertmanager}/api/v2/alerts").json()
        # A resolved alert leaves the active list (Alertmanager keeps it only as resolved).
        assert all(a["status"]["state"] != "active" for a in after)
    finally:
        channel.close()


def test_alertmanager_takes_an_alert_whatever_the_labels_hold(alertmanager: str) -> None:
    """A label name Alertmanager refuses would lose the alert; agent text with control
    characters reaches its templates as one line."""
    channel = build("alertmanager", {"url": alertmanager}, ChannelContext(timeout_s=5))
    try:
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        labels = {"team-name": "web\r\nseverity: none", "9lives": "x"}
        channel.send(sample_payload(since=now, at=now, labels=labels))
        (alert,) = httpx.get(f"{alertmanager}/api/v2/alerts").json()
        assert alert["labels"]["team_name"] == "web  severity: none"
        assert alert["labels"]["_9lives"] == "x"
        assert alert["labels"]["severity"] == "warning"
    finally:
        channel.close()
