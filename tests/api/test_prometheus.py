"""/metrics: a real Prometheus scrapes it, and `promtool check metrics` finds nothing to fix."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx

from tests.api.harness import ApiServer, batch
from tests.support.servers import free_port, stop_process, wait_http


def test_metrics_exposition_is_promtool_clean(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll()
    r = sqlite_api.client.post(
        "/api/v1/metrics/collect", json=batch(4), headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 202
    sqlite_api.client.post(
        "/api/v1/metrics/collect", content=b"{", headers={"Authorization": f"Bearer {key}"}
    )
    text = sqlite_api.client.get("/metrics").text
    assert 'fleetmon_ingest_points_total{endpoint="collect"}' in text
    assert 'fleetmon_ingest_rejects_total{reason="invalid"}' in text
    assert "fleetmon_store_write_duration_seconds_bucket" in text
    assert (
        'fleetmon_http_request_duration_seconds_count{method="POST",route="/api/v1/metrics/collect",status="202"}'
        in text
    )
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is required"
    check = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True)
    assert check.returncode == 0, check.stderr.decode() + check.stdout.decode()
    assert check.stdout.decode().strip() == ""
    assert check.stderr.decode().strip() == ""


def test_real_prometheus_scrapes_metrics(sqlite_api: ApiServer, tmp_path: Path) -> None:
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    assert Path(binary).exists(), "prometheus (Debian package) is required"
    port = free_port()
    target = sqlite_api.url.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(
        f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: fleetmon
    static_configs:
      - targets: ["{target}"]
"""
    )
    log = (tmp_path / "prometheus.log").open("wb")
    with log:
        proc = subprocess.Popen(
            [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/-/ready", timeout=30, proc=proc)
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline:
            targets = httpx.get(f"{base}/api/v1/targets").json()["data"]["activeTargets"]
            health = targets[0]["health"] if targets else None
            if health == "up":
                break
            time.sleep(0.5)
        assert health == "up", targets
        q = httpx.get(f"{base}/api/v1/query", params={"query": "fleetmon_up"}).json()
        assert q["data"]["result"][0]["value"][1] == "1"
    finally:
        stop_process(proc)
