"""Generate dashboard/dashboards/*.json from one description: `python dashboard/generate.py`.

Dashboards are code so every panel's InfluxQL follows one pattern and a test can run each query
against a real InfluxDB holding what the agent really emits.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "influxdb", "uid": "fleetmon-influx"}
# Alert state and history live in the metadata database (PostgreSQL in production).
ALERTS_DATASOURCE = {"type": "grafana-postgresql-datasource", "uid": "fleetmon-postgres"}
HOST_FILTER = '"host" =~ /^$host$/'
BY_PATH = '"host", "path"'


@dataclass
class Panel:
    """One time-series or table panel with its InfluxQL queries."""

    title: str
    queries: list[tuple[str, str]]  # (legend alias, InfluxQL)
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 12
    height: int = 8
    max: float | None = None
    description: str = ""
    overrides: list[dict[str, Any]] = field(default_factory=list)
    datasource: dict[str, str] = field(default_factory=lambda: DATASOURCE)


def series(measurement: str, select: str, where: str = "", group: str = '"host"') -> str:
    """A per-interval InfluxQL query over the dashboard's host filter and time range."""
    extra = f" AND {where}" if where else ""
    return (
        f'SELECT {select} FROM "{measurement}" WHERE {HOST_FILTER}{extra} AND $timeFilter '
        f"GROUP BY time($__interval), {group} fill(null)"
    )


def rate(
    measurement: str, fieldname: str, scale: str = "", where: str = "", group: str = ""
) -> str:
    """Per-second rate of a counter (counters are stored raw; rates are derived here)."""
    sel = f'non_negative_derivative(last("{fieldname}"), 1s){scale}'
    return series(measurement, sel, where, group or '"host"')


HOST_PANELS: list[Panel] = [
    Panel(
        "CPU usage",
        [("busy", series("cpu", '100 - mean("usage_idle")', "\"cpu\" = 'cpu-total'"))],
        unit="percent",
        max=100,
    ),
    Panel(
        "CPU breakdown",
        [
            (f, series("cpu", f'mean("usage_{f}") AS "{f}"', "\"cpu\" = 'cpu-total'"))
            for f in ("user", "system", "iowait", "steal", "nice", "irq", "softirq")
        ],
        unit="percent",
    ),
    Panel(
        "Load average",
        [(f, series("system", f'mean("{f}") AS "{f}"')) for f in ("load1", "load5", "load15")],
    ),
    Panel(
        "Memory used", [("used %", series("mem", 'mean("used_percent")'))], unit="percent", max=100
    ),
    Panel(
        "Memory",
        [
            (f, series("mem", f'mean("{f}") AS "{f}"'))
            for f in ("used", "cached", "buffered", "available")
        ],
        unit="bytes",
    ),
    Panel("Swap used", [("swap %", series("swap", 'mean("used_percent")'))], unit="percent"),
    Panel(
        "Disk used by mount",
        [("disk", series("disk", 'last("used_percent")', group=BY_PATH))],
        unit="percent",
        max=100,
    ),
    Panel(
        "Disk inodes used by mount",
        [
            (
                "inodes",
                series("disk", 'last("inodes_used") / last("inodes_total") * 100', group=BY_PATH),
            )
        ],
        unit="percent",
    ),
    Panel(
        "Disk I/O",
        [
            ("read", rate("diskio", "read_bytes", group='"host", "name"')),
            ("write", rate("diskio", "write_bytes", " * -1", group='"host", "name"')),
        ],
        unit="Bps",
    ),
    Panel(
        "Network traffic",
        [
            ("in", rate("net", "bytes_recv", " * 8", group='"host", "interface"')),
            ("out", rate("net", "bytes_sent", " * -8", group='"host", "interface"')),
        ],
        unit="bps",
    ),
    Panel(
        "Network errors and drops",
        [
            (f, rate("net", f, group='"host", "interface"'))
            for f in ("err_in", "err_out", "drop_in", "drop_out")
        ],
        unit="pps",
    ),
    Panel(
        "TCP connections",
        [
            (f, series("netstat", f'last("{f}") AS "{f}"'))
            for f in ("tcp_established", "tcp_time_wait", "tcp_listen", "tcp_close_wait")
        ],
    ),
    Panel(
        "Processes",
        [
            (f, series("processes", f'last("{f}") AS "{f}"'))
            for f in ("running", "sleeping", "blocked", "zombies", "total_threads")
        ],
    ),
    Panel(
        "Top processes by CPU",
        [
            (
                "top",
                'SELECT last("cpu_usage") AS "cpu %", last("memory_rss") AS "rss", '
                'last("memory_usage") AS "mem %" FROM "procstat" '
                f"WHERE {HOST_FILTER} AND $timeFilter "
                'GROUP BY "host", "process_name", "pid"',
            )
        ],
        kind="table",
        width=24,
        height=10,
    ),
    Panel(
        "Agent health",
        [
            (f, series("fleetmon_agent", f'last("{f}") AS "{f}"'))
            for f in ("spool_files", "dropped_points", "send_errors")
        ],
        description="Spool depth and losses of the fleetmon agent on this host.",
    ),
]

FLEET_PANELS: list[Panel] = [
    Panel(
        "CPU usage by host",
        [("cpu", series("cpu", '100 - mean("usage_idle")', "\"cpu\" = 'cpu-total'"))],
        unit="percent",
        max=100,
    ),
    Panel("Memory used by host", [("mem", series("mem", 'mean("used_percent")'))], unit="percent"),
    Panel(
        "Fullest disk by host",
        [("disk", series("disk", 'max("used_percent")'))],
        unit="percent",
        max=100,
    ),
    Panel("Load (1 min) by host", [("load1", series("system", 'mean("load1")'))]),
    Panel(
        "Network in by host",
        [("in", rate("net", "bytes_recv", " * 8"))],
        unit="bps",
        description="Sum over interfaces is shown per interface series; stack to read totals.",
    ),
    Panel(
        "Agent spool depth by host",
        [("spool", series("fleetmon_agent", 'last("spool_files")'))],
        description="Non-zero means the agent could not deliver and is buffering to disk.",
    ),
]


def severity_order(column: str) -> str:
    """SQL ranking severities most severe first, from the one severity order fleetmon has."""
    from fleetmon_db.alerting import SEVERITIES

    ranks = " ".join(f"WHEN '{sev}' THEN {rank}" for rank, sev in enumerate(reversed(SEVERITIES)))
    return f"CASE {column} {ranks} ELSE {len(SEVERITIES)} END"


# Events a channel test leaves in the history (fleetmon_db.sample_alert.TEST_STATUS) are
# not alert state changes: the boards leave them out.
NOT_A_TEST = "to_status <> 'test'"

ALERT_PANELS: list[Panel] = [
    Panel(
        "Firing now",
        [("firing", "SELECT count(*) AS \"firing\" FROM alert_states WHERE status = 'firing'")],
        kind="stat",
        width=6,
        height=5,
        description="Alerts firing at this moment, across every rule and host.",
    ),
    Panel(
        "Pending now",
        [("pending", "SELECT count(*) AS \"pending\" FROM alert_states WHERE status = 'pending'")],
        kind="stat",
        width=6,
        height=5,
        description="Conditions that hold but not yet for the rule's `for` time.",
    ),
    Panel(
        "Alert changes",
        [
            (
                "changes",
                "SELECT $__timeGroupAlias(at, $__interval), "
                "count(*) FILTER (WHERE to_status = 'firing' AND from_status <> 'firing') "
                'AS "fired", '
                "count(*) FILTER (WHERE to_status = 'resolved') AS \"resolved\" "
                f"FROM alert_events WHERE $__timeFilter(at) AND {NOT_A_TEST} "
                "GROUP BY 1 ORDER BY 1",
            )
        ],
        width=12,
        height=5,
        description="Alerts that started firing and that resolved, per interval.",
    ),
    Panel(
        "Active alerts",
        [
            (
                "active",
                "SELECT r.severity, r.name AS rule, s.host, s.status, s.value, "
                "s.firing_since, s.pending_since, s.annotations ->> 'summary' AS summary "
                "FROM alert_states s JOIN alert_rules r ON r.id = s.rule_id "
                "WHERE s.status IN ('pending', 'firing') "
                f"ORDER BY s.status <> 'firing', {severity_order('r.severity')}, "
                "coalesce(s.firing_since, s.pending_since)",
            )
        ],
        kind="table",
        width=24,
        height=9,
    ),
    Panel(
        "Noisiest rules",
        [
            (
                "rules",
                "SELECT rule_name AS rule, count(*) AS firings, count(DISTINCT host) AS hosts "
                "FROM alert_events WHERE $__timeFilter(at) "
                "AND to_status = 'firing' AND from_status <> 'firing' "
                "GROUP BY rule_name ORDER BY firings DESC, rule LIMIT 10",
            )
        ],
        kind="table",
        width=12,
        height=9,
        description="Rules that fired most often in the time range (repeats not counted).",
    ),
    Panel(
        "Noisiest hosts",
        [
            (
                "hosts",
                "SELECT host, count(*) AS firings, count(DISTINCT rule_name) AS rules "
                "FROM alert_events WHERE $__timeFilter(at) "
                "AND to_status = 'firing' AND from_status <> 'firing' "
                "GROUP BY host ORDER BY firings DESC, host LIMIT 10",
            )
        ],
        kind="table",
        width=12,
        height=9,
    ),
    Panel(
        "Alert history",
        [
            (
                "history",
                'SELECT at AS "time", severity, rule_name AS rule, host, from_status, '
                "to_status, value FROM alert_events "
                f"WHERE $__timeFilter(at) AND {NOT_A_TEST} ORDER BY at DESC LIMIT 500",
            )
        ],
        kind="table",
        width=24,
        height=12,
    ),
    Panel(
        "Notifications by channel",
        [
            (
                "delivery",
                "SELECT c.name AS channel, "
                "count(*) FILTER (WHERE n.status = 'sent') AS sent, "
                "count(*) FILTER (WHERE n.status = 'failed') AS failed, "
                "count(*) FILTER (WHERE n.status = 'pending') AS pending "
                "FROM alert_notifications n "
                "JOIN alert_channels c ON c.id = n.channel_id "
                "JOIN alert_events e ON e.id = n.event_id "
                "WHERE $__timeFilter(e.at) GROUP BY c.name ORDER BY c.name",
            )
        ],
        kind="table",
        width=24,
        height=7,
        description="Failed notifications: see the outbox row's last_error (GET "
        "/api/v1/alerts/notifications/{id}) or the worker log.",
    ),
]
for _p in ALERT_PANELS:
    _p.datasource = ALERTS_DATASOURCE


def _targets(panel: Panel) -> Iterator[dict[str, Any]]:
    if panel.datasource is ALERTS_DATASOURCE:
        for i, (_, sql) in enumerate(panel.queries):
            yield {
                "refId": chr(ord("A") + i),
                "datasource": panel.datasource,
                "editorMode": "code",
                "rawQuery": True,
                "format": "time_series" if panel.kind == "timeseries" else "table",
                "rawSql": sql,
            }
        return
    for i, (alias, query) in enumerate(panel.queries):
        yield {
            "refId": chr(ord("A") + i),
            "datasource": DATASOURCE,
            "rawQuery": True,
            "resultFormat": "table" if panel.kind == "table" else "time_series",
            "query": query,
            "alias": f"$tag_host {alias}" if panel.kind != "table" else alias,
        }


def _panel(panel: Panel, pid: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit}
    if panel.max is not None:
        defaults["max"] = panel.max
        defaults["min"] = 0
    return {
        "id": pid,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": panel.datasource,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
        "fieldConfig": {"defaults": defaults, "overrides": panel.overrides},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": list(_targets(panel)),
    }


def dashboard(
    uid: str, title: str, panels: list[Panel], multi_host: bool, host_variable: bool = True
) -> dict[str, Any]:
    """A complete Grafana dashboard, with a `host` variable fed by the stored host tags."""
    laid: list[dict[str, Any]] = []
    x = y = 0
    row_h = 0
    for pid, panel in enumerate(panels, start=1):
        if x + panel.width > 24:
            x, y, row_h = 0, y + row_h, 0
        laid.append(_panel(panel, pid, x, y))
        x += panel.width
        row_h = max(row_h, panel.height)
    return {
        "uid": uid,
        "title": title,
        "tags": ["fleetmon"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": []
            if not host_variable
            else [
                {
                    "name": "host",
                    "label": "Host",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": 'SHOW TAG VALUES WITH KEY = "host"',
                    "refresh": 2,
                    "multi": multi_host,
                    "includeAll": multi_host,
                    "allValue": ".*",
                    "sort": 1,
                }
            ]
        },
        "panels": laid,
    }


DASHBOARDS = {
    "fleet-overview.json": dashboard(
        "fleetmon-fleet", "fleetmon / Fleet overview", FLEET_PANELS, True
    ),
    "host-detail.json": dashboard("fleetmon-host", "fleetmon / Host detail", HOST_PANELS, False),
    "alerts.json": dashboard(
        "fleetmon-alerts", "fleetmon / Alerts", ALERT_PANELS, False, host_variable=False
    ),
}


def render(board: dict[str, Any]) -> str:
    """Stable JSON text for a dashboard (what is committed)."""
    return json.dumps(board, indent=2, sort_keys=True) + "\n"


def main() -> int:
    """Write every dashboard; with --check, fail if a committed file differs."""
    check = "--check" in sys.argv[1:]
    stale = []
    for name, board in DASHBOARDS.items():
        path = OUT / name
        text = render(board)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            OUT.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"stale dashboards (run python dashboard/generate.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
