"""Pull mode against the real thing: the agent's /metrics next to node_exporter's on this host,
`promtool check metrics`, and the node-mixin's rules evaluated by a real Prometheus."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.agent import agent_env
from tests.support.receiver import Receiver, wait_until
from tests.support.servers import free_port, stop_process, wait_http

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
EXPECTED = {  # what node_exporter users look for first, all served by the agent
    "node_cpu_seconds_total",
    "node_memory_MemTotal_bytes",
    "node_memory_MemAvailable_bytes",
    "node_filesystem_size_bytes",
    "node_filesystem_free_bytes",
    "node_filesystem_avail_bytes",
    "node_network_receive_bytes_total",
    "node_network_transmit_packets_total",
    "node_network_receive_errs_total",
    "node_network_transmit_drop_total",
    "node_load1",
    "node_load5",
    "node_load15",
    "node_disk_reads_completed_total",
    "node_disk_io_time_seconds_total",
    "node_boot_time_seconds",
    "node_context_switches_total",
    "node_forks_total",
    "node_procs_running",
    "node_procs_blocked",
    "node_netstat_Tcp_CurrEstab",
}


class Family:
    """One metric as an exposition describes it."""

    def __init__(self, kind: str, help_text: str) -> None:
        self.kind, self.help = kind, help_text
        self.samples: list[tuple[dict[str, str], float]] = []

    @property
    def label_names(self) -> set[frozenset[str]]:
        return {frozenset(labels) for labels, _ in self.samples}

    def values(self, label: str) -> set[str]:
        return {labels[label] for labels, _ in self.samples if label in labels}


def parse(text: str) -> dict[str, Family]:
    """Samples by metric name (counters keep their _total) with TYPE and HELP."""
    out: dict[str, Family] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            entry = out.setdefault(s.name, Family(fam.type, fam.documentation))
            entry.samples.append((dict(s.labels), s.value))
    return out


def scrape(url: str) -> str:
    return httpx.get(url, timeout=10).text


def write_agent_config(tmp: Path, url: str, port: int) -> Path:
    from fleetmon_agent.collectors import REGISTRY

    doc = {
        "server": {"url": url, "api_key": "k", "retry_initial": 0.05, "retry_max": 0.3},
        "spool": {"dir": str(tmp / "spool")},
        "batch": {"flush_interval": 0.5},
        "exporter": {"enabled": True, "port": port},
        "collectors": {spec.name: {"interval": 1} for spec in REGISTRY},
    }
    path = tmp / "agent.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


class Running:
    """The agent process with its exporter, and node_exporter, on this host."""

    def __init__(self, agent: str, node: str, receiver: Receiver) -> None:
        self.agent_url, self.node_url, self.receiver = agent, node, receiver


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    assert Path(NODE_EXPORTER).exists(), "prometheus-node-exporter (Debian package) is missing"
    tmp = tmp_path_factory.mktemp("pull")
    receiver = Receiver().start()
    port, node_port = free_port(), free_port()
    config = write_agent_config(tmp, receiver.url, port)
    with (tmp / "agent.log").open("wb") as log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "fleetmon_agent", "-c", str(config), "run"],
            env=agent_env(), stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    node = subprocess.Popen(
        [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{node_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        agent_url = f"http://127.0.0.1:{port}/metrics"
        node_url = f"http://127.0.0.1:{node_port}/metrics"
        wait_http(node_url, timeout=30, proc=node)
        wait_http(agent_url, timeout=30, proc=agent)
        assert wait_until(lambda: set(parse(scrape(agent_url))) >= EXPECTED, timeout=30), sorted(
            EXPECTED - set(parse(scrape(agent_url)))
        )
        yield Running(agent_url, node_url, receiver)
    finally:
        stop_process(agent)
        stop_process(node)
        receiver.stop()


def test_names_labels_types_and_help_are_node_exporters(both: Running) -> None:
    agent, node = parse(scrape(both.agent_url)), parse(scrape(both.node_url))
    served = {name for name in agent if name.startswith("node_")}
    assert served >= EXPECTED
    for name in sorted(served):
        assert name in node, f"node_exporter has no {name}"
        assert agent[name].kind == node[name].kind, name
        assert agent[name].help == node[name].help, name
        assert agent[name].label_names == node[name].label_names, name
    # The same series: the label values match node_exporter's on the same host.
    cpu = "node_cpu_seconds_total"
    assert {(lbl["cpu"], lbl["mode"]) for lbl, _ in agent[cpu].samples} == {
        (lbl["cpu"], lbl["mode"]) for lbl, _ in node[cpu].samples
    }
    fs = "node_filesystem_size_bytes"
    node_fs = {tuple(sorted(lbl.items())) for lbl, _ in node[fs].samples}
    for labels, _ in agent[fs].samples:
        assert tuple(sorted(labels.items())) in node_fs, labels
    assert agent["node_network_receive_bytes_total"].values("device") <= node[
        "node_network_receive_bytes_total"
    ].values("device")
    disks = "node_disk_reads_completed_total"
    assert node[disks].values("device") <= agent[disks].values("device")
    # The agent's own metrics: one prefix, never doubled.
    own = [n for n in agent if not n.startswith("node_")]
    assert own
    assert all(n.startswith("fleetmon_agent_") for n in own), own
    assert not [n for n in agent if n.startswith("fleetmon_fleetmon")]


def test_values_agree_with_node_exporter(both: Running) -> None:
    agent, node = parse(scrape(both.agent_url)), parse(scrape(both.node_url))

    def one(fams: dict[str, Family], name: str, **labels: str) -> float:
        found = [v for lbl, v in fams[name].samples if labels.items() <= lbl.items()]
        assert len(found) == 1, (name, labels, fams[name].samples)
        return found[0]

    for name in ("node_memory_MemTotal_bytes", "node_boot_time_seconds"):
        assert one(agent, name) == one(node, name), name
    for name in ("node_filesystem_size_bytes", "node_filesystem_files"):
        assert one(agent, name, mountpoint="/") == one(node, name, mountpoint="/"), name
    idle_agent = one(agent, "node_cpu_seconds_total", cpu="0", mode="idle")
    idle_node = one(node, "node_cpu_seconds_total", cpu="0", mode="idle")
    assert 0 <= idle_node - idle_agent < 10  # the agent's value is up to an interval older


def test_promtool_finds_nothing_but_node_exporters_own_names(both: Running) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is required"

    def check(text: str) -> tuple[int, set[str]]:
        run = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True
        )
        return run.returncode, {line for line in run.stderr.splitlines() if line.strip()}

    code, problems = check(scrape(both.agent_url))
    assert code in (0, 3), problems  # 3: lint findings, 1 would be a broken exposition
    _, node_problems = check(scrape(both.node_url))
    # node_exporter's names are camelCase in places (node_memory_MemTotal_bytes) and count
    # entropy in bits: promtool says so about node_exporter itself. Nothing else.
    assert problems <= node_problems, sorted(problems - node_problems)
    assert not [p for p in problems if p.startswith("fleetmon_agent")]


RULES = """
groups:
  # docs/node-mixin/rules/rules.libsonnet (node_exporter), rateInterval 5m, job="node"
  - name: node-exporter.rules
    interval: 1s
    rules:
      - record: instance:node_num_cpu:sum
        expr: count without (cpu, mode) (node_cpu_seconds_total{job="node",mode="idle"})
      - record: instance:node_cpu_utilisation:rate5m
        expr: >
          1 - avg without (cpu) (sum without (mode) (rate(node_cpu_seconds_total{job="node",
          mode=~"idle|iowait|steal"}[5m])))
      - record: instance:node_load1_per_cpu:ratio
        expr: node_load1{job="node"} / instance:node_num_cpu:sum{job="node"}
      - record: instance:node_memory_utilisation:ratio
        expr: >
          1 - ((node_memory_MemAvailable_bytes{job="node"} or (node_memory_Buffers_bytes{job="node"}
          + node_memory_Cached_bytes{job="node"} + node_memory_MemFree_bytes{job="node"}
          + node_memory_Slab_bytes{job="node"})) / node_memory_MemTotal_bytes{job="node"})
      - record: instance_device:node_disk_io_time_seconds:rate5m
        expr: rate(node_disk_io_time_seconds_total{job="node", device!=""}[5m])
      - record: instance:node_network_receive_bytes_excluding_lo:rate5m
        expr: >
          sum without (device) (rate(node_network_receive_bytes_total{job="node",
          device!="lo"}[5m]))
  # docs/node-mixin/alerts/alerts.libsonnet expressions; the thresholds are turned so that
  # they hold on a healthy host, and `for` is 0: each must reach `firing` here.
  - name: node-exporter
    interval: 1s
    rules:
      - alert: NodeFilesystemAlmostOutOfSpace
        expr: >
          (node_filesystem_avail_bytes{job="node",fstype!="",mountpoint!=""}
          / node_filesystem_size_bytes{job="node",fstype!="",mountpoint!=""} * 100 < 101
          and node_filesystem_readonly{job="node",fstype!="",mountpoint!=""} == 0)
      - alert: NodeSystemSaturation
        expr: >
          node_load1{job="node"} / count without (cpu, mode)
          (node_cpu_seconds_total{job="node", mode="idle"}) > -1
      - alert: NodeMemoryHighUtilization
        expr: >
          100 - (node_memory_MemAvailable_bytes{job="node"}
          / node_memory_MemTotal_bytes{job="node"} * 100) > -1
      - alert: NodeCPUHighUsage
        expr: >
          sum without(mode) (avg without (cpu) (rate(node_cpu_seconds_total{job="node",
          mode!~"idle|iowait"}[2m]))) * 100 > -1
"""


def test_node_mixin_rules_evaluate_in_prometheus(both: Running, tmp_path: Path) -> None:
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    assert Path(binary).exists(), "prometheus (Debian package) is required"
    port = free_port()
    target = both.agent_url.removeprefix("http://").removesuffix("/metrics")
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "prometheus.yml").write_text(
        f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{tmp_path / "rules.yml"}"]
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["{target}"]
"""
    )
    with (tmp_path / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def query(q: str) -> list[dict[str, Any]]:
        body = httpx.get(f"{base}/api/v1/query", params={"query": q}, timeout=5).json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    recorded = [
        "instance:node_num_cpu:sum",
        "instance:node_cpu_utilisation:rate5m",
        "instance:node_load1_per_cpu:ratio",
        "instance:node_memory_utilisation:ratio",
        "instance_device:node_disk_io_time_seconds:rate5m",
        "instance:node_network_receive_bytes_excluding_lo:rate5m",
    ]
    try:
        wait_http(f"{base}/-/ready", timeout=30, proc=proc)
        assert wait_until(lambda: all(query(r) for r in recorded), timeout=60), [
            r for r in recorded if not query(r)
        ]
        cpus = float(query("instance:node_num_cpu:sum")[0]["value"][1])
        assert cpus == len(query('node_cpu_seconds_total{mode="idle"}')) >= 1
        for name in (
            "instance:node_cpu_utilisation:rate5m",
            "instance:node_memory_utilisation:ratio",
        ):
            value = float(query(name)[0]["value"][1])
            assert 0.0 <= value <= 1.0, (name, value)

        def firing() -> set[str]:
            alerts = httpx.get(f"{base}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
            return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}

        wanted = {
            "NodeFilesystemAlmostOutOfSpace",
            "NodeSystemSaturation",
            "NodeMemoryHighUtilization",
            "NodeCPUHighUsage",
        }
        assert wait_until(lambda: wanted <= firing(), timeout=30), wanted - firing()
        rules = httpx.get(f"{base}/api/v1/rules", timeout=5).json()["data"]["groups"]
        assert all(r["health"] == "ok" for g in rules for r in g["rules"]), rules
    finally:
        stop_process(proc)


def test_port_in_use_is_one_line_and_push_goes_on(tmp_path: Path) -> None:
    receiver = Receiver().start()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = write_agent_config(tmp_path, receiver.url, port)
        agent = subprocess.Popen(
            [sys.executable, "-m", "fleetmon_agent", "-c", str(config), "run"],
            env=agent_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert wait_until(lambda: len(receiver.accepted()) >= 3, timeout=30), "no batches"
            assert agent.poll() is None, "the agent stopped"
        finally:
            agent.terminate()
            _, err = agent.communicate(timeout=10)
            receiver.stop()
    assert agent.returncode == 0
    lines = [ln for ln in err.decode().splitlines() if "exporter" in ln]
    assert len(lines) == 1, err.decode()
    assert f"exporter: cannot listen on 127.0.0.1:{port} (Address already in use)" in lines[0]
    assert "Traceback" not in err.decode()
