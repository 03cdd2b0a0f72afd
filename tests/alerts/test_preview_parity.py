"""The API's rule preview sees what the worker sees: same hosts, same verdict, same value,
on every store (the preview cannot import the worker, so this test holds them together)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleetmon_alerts.clock import to_ns
from fleetmon_alerts.observe import observe
from fleetmon_api import preview
from fleetmon_db.alerting import RuleKind
from fleetmon_db.models import AlertRule, Host
from fleetmon_db.timeseries import Point, TimeSeriesStore
from tests.alerts.helpers import add_host
from tests.support.clock import FakeClock

RULES: list[dict[str, Any]] = [
    {"metric": "mem.used_percent", "aggregate": "avg", "comparison": ">", "threshold": 80.0},
    {"metric": "mem.used_percent", "aggregate": "max", "comparison": ">=", "threshold": 93.0},
    {"metric": "disk.used_percent", "aggregate": "last", "comparison": ">", "threshold": 85.0},
    {"metric": "disk.used_percent", "aggregate": "min", "comparison": "<", "threshold": 40.0},
    {"metric": "disk.used_percent", "aggregate": "last", "comparison": ">", "threshold": 50.0,
     "tags": {"path": "/"}},
    {"metric": "mem.used_percent", "aggregate": "avg", "comparison": ">", "threshold": 10.0,
     "scope": {"labels": {"role": "db"}}},
    {"metric": "mem.used_percent", "aggregate": "avg", "comparison": ">", "threshold": 10.0,
     "scope": {"hosts": ["h-web", "h-never"]}},
    {"metric": "net.bytes_recv", "aggregate": "rate", "comparison": ">", "threshold": 1000.0},
    {"kind": RuleKind.HOST_DOWN.value, "metric": "", "window_s": 120, "comparison": ">=",
     "threshold": 0.0},
]  # fmt: skip


def _seed(sessions: sessionmaker[Session], store: TimeSeriesStore, now: datetime) -> None:
    add_host(sessions, "h-web", {"role": "web"}, now - timedelta(seconds=20))
    add_host(sessions, "h-db", {"role": "db"}, now - timedelta(seconds=400))
    add_host(sessions, "h-idle", {"role": "web"}, None)
    points = []
    for host, mem, disks, recv_per_s in (
        ("h-web", 91.0, {"/": 55.0, "/data": 30.0}, 5000.0),
        ("h-db", 95.0, {"/": 45.0, "/data": 96.0}, 10.0),
    ):
        for i, age in enumerate((50, 40, 30, 20, 10)):
            at = to_ns(now - timedelta(seconds=age))
            points.append(Point(host, "mem", at, {}, {"used_percent": mem + i - 2}))
            points.append(Point(host, "net", at, {"interface": "eth0"},
                                {"bytes_recv": int(recv_per_s * (60 - age))}))  # fmt: skip
            for path, used in disks.items():
                points.append(Point(host, "disk", at, {"path": path}, {"used_percent": used}))
    store.write(points)


@pytest.mark.parametrize(
    "spec", RULES, ids=[f"{r['metric'] or r['kind']}-{i}" for i, r in enumerate(RULES)]
)
def test_preview_matches_the_worker(
    sessions: sessionmaker[Session],
    store: TimeSeriesStore,
    clock: FakeClock,
    spec: dict[str, Any],
) -> None:
    now = clock.now()
    _seed(sessions, store, now)
    fields: dict[str, Any] = {"name": "parity", "window_s": 60, **spec}
    rule = AlertRule(**{"kind": RuleKind.THRESHOLD.value, "tags": {}, "scope": {}, **fields})
    with sessions() as s:
        hosts = list(s.scalars(select(Host)))
    worker = observe(rule, hosts, store, now)
    scope = rule.scope or {}
    mine = preview.preview(
        preview.RuleSpec(
            kind=rule.kind,
            metric=rule.metric,
            tags=rule.tags or {},
            aggregate=rule.aggregate,
            window_s=rule.window_s,
            comparison=rule.comparison,
            threshold=rule.threshold,
            scope_hosts=scope.get("hosts", []),
            scope_labels=scope.get("labels", {}),
        ),
        [preview.HostInfo(h.name, h.labels or {}, h.last_seen) for h in hosts],
        store,
        now,
    )[1]
    assert worker, "the seed must give the worker something to see"
    assert set(mine) == set(worker)
    for host, obs in worker.items():
        assert mine[host].matches == obs.active, host
        assert mine[host].value == pytest.approx(obs.value), host
