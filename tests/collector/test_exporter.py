"""Pull mode's exposition from the collectors' declarations: names, labels, HELP, TYPE."""

from __future__ import annotations

import urllib.request

import pytest

from fleetmon_agent.collectors import REGISTRY, measurements
from fleetmon_agent.exporter import LatestValues, metric_types, serve
from fleetmon_agent.points import Point


def test_every_served_metric_is_node_exporters_or_the_agents_own() -> None:
    types = metric_types(measurements().values())  # raises if one name is declared twice apart
    for name, (help_text, kind) in types.items():
        assert name.startswith(("node_", "fleetmon_agent_")), name
        assert not name.startswith("fleetmon_fleetmon"), name
        assert help_text, name
        assert kind in ("counter", "gauge", "untyped"), name
        if kind == "counter":
            assert name.endswith("_total"), name
        elif name.endswith("_total"):
            pytest.fail(f"{name} ends with _total but is a {kind}")
    for spec in REGISTRY:  # counters are served as counters, levels as gauges
        for m in spec.measurements:
            for f in m.fields:
                if f.prom is not None and f.prom.type != "untyped":
                    assert f.prom.type == ("counter" if f.kind == "counter" else "gauge"), f


def test_points_become_node_exporter_samples() -> None:
    latest = LatestValues()
    times = {"time_user": 12.5, "time_idle": 100.0, "time_guest": 1.0}
    latest.update(
        "cpu",
        [
            Point("cpu", 1.0, {"cpu": "cpu-total"}, {"usage_idle": 90.0}, dict(times)),
            Point("cpu", 1.0, {"cpu": "cpu1"}, {"usage_idle": 90.0}, dict(times)),
        ],
    )
    latest.update(
        "disk",
        [
            Point(
                "disk",
                1.0,
                {"path": "/", "device": "mapper/vg-root", "fstype": "ext4", "mode": "ro"},
                {"total": 1000, "free": 300, "used": 600, "used_percent": 66.7},
                {"device": "/dev/mapper/vg-root"},
            )
        ],
    )
    latest.update("diskio", [Point("diskio", 1.0, {"name": "sda"}, {"read_time": 1500})])
    latest.update("agent", [Point("fleetmon_agent", 1.0, {"collector": "cpu"}, {"errors": 2})])
    text = latest.render()
    lines = text.splitlines()
    assert 'node_cpu_seconds_total{cpu="1",mode="user"} 12.5' in lines
    assert 'node_cpu_seconds_total{cpu="1",mode="idle"} 100.0' in lines
    assert 'node_cpu_guest_seconds_total{cpu="1",mode="user"} 1.0' in lines
    assert "cpu-total" not in text  # node_exporter has no total
    assert "usage_idle" not in text  # percentages are pushed, not served
    fs = 'device="/dev/mapper/vg-root",fstype="ext4",mountpoint="/"'
    assert f"node_filesystem_size_bytes{{{fs}}} 1000.0" in lines
    assert f"node_filesystem_avail_bytes{{{fs}}} 300.0" in lines
    assert f"node_filesystem_free_bytes{{{fs}}} 400.0" in lines  # size - used: root's share too
    assert f"node_filesystem_readonly{{{fs}}} 1.0" in lines
    assert 'node_disk_read_time_seconds_total{device="sda"} 1.5' in lines  # ms -> s
    assert 'fleetmon_agent_collect_errors_total{collector="cpu"} 2.0' in lines
    assert 'fleetmon_agent_build_info{version="' in text
    assert "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode." in lines
    assert "# TYPE node_cpu_seconds_total counter" in lines
    assert lines.count("# TYPE node_cpu_seconds_total counter") == 1
    # A collector's next run replaces its samples: an unmounted filesystem disappears.
    latest.update("disk", [])
    assert "node_filesystem" not in latest.render()


def test_label_values_are_escaped() -> None:
    latest = LatestValues()
    latest.update("net", [Point("net", 1.0, {"interface": 'we"ird\\n'}, {"bytes_recv": 5})])
    assert 'node_network_receive_bytes_total{device="we\\"ird\\\\n"} 5.0' in latest.render()


def test_exporter_serves_over_http() -> None:
    latest = LatestValues()
    latest.update("system", [Point("system", 1.0, {}, {"load1": 0.5})])
    server = serve(latest, "127.0.0.1", 0)
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
            assert "node_load1 0.5" in resp.read().decode().splitlines()
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
        assert info.value.code == 404
        info.value.close()
    finally:
        server.shutdown()
        server.server_close()
