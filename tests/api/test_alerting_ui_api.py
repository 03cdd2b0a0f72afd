"""Endpoints the web UI's alerting pages use: UI config, rule preview, channel tests through
the worker's outbox, notification previews rendered by the worker, silence expiry; and real
answers conform to the published schema."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema_rs
import pytest

from fleetmon_alerts.clock import SystemClock
from fleetmon_alerts.delivery import Dispatcher, RetryPolicy
from fleetmon_alerts.evaluate import Evaluator
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.models import NotificationPreview
from fleetmon_db.timeseries import open_store
from tests.api.harness import ApiServer, now_s, running_api
from tests.support.previews import preview_responder
from tests.support.receiver import Receiver

R = "/api/v1/alerts"


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def push(api: ApiServer, key: str, points: list[dict[str, Any]]) -> None:
    body = {"batch_id": str(uuid.uuid4()), "agent": {"version": "1.0.0"}, "points": points}
    r = api.client.post(
        "/api/v1/metrics/collect", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 202, r.text


def mem(value: float, t: float) -> dict[str, Any]:
    return {"measurement": "mem", "time": t, "tags": {}, "fields": {"used_percent": value}}


def disk(path: str, value: float, t: float) -> dict[str, Any]:
    return {
        "measurement": "disk",
        "time": t,
        "tags": {"path": path},
        "fields": {"used_percent": value},
    }


def rule(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": uniq("preview"),
        "metric": "mem.used_percent",
        "aggregate": "avg",
        "window_s": 300,
        "comparison": ">",
        "threshold": 85,
    }
    body.update(over)
    return body


@pytest.fixture(scope="module")
def tight_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """An API whose host status thresholds and public URL differ from the defaults."""
    tmp = tmp_path_factory.mktemp("api-ui")
    with running_api(
        f"sqlite:///{tmp / 'meta.db'}",
        f"sqlite:///{tmp / 'metrics.db'}",
        stale_after_s=30,
        down_after_s=90,
        public_url="https://fleet.example.test",
        notification_preview_wait_s=1.0,
        ingest_rate_limit="100000/minute",
        login_rate_limit="100000/minute",
        enroll_rate_limit="100000/minute",
    ) as server:
        yield server


def test_ui_config_comes_from_the_server_settings(tight_api: ApiServer) -> None:
    c = tight_api.client
    assert c.get("/api/v1/ui/config").status_code == 401
    cfg = c.get("/api/v1/ui/config", headers=tight_api.auth("viewer")).json()
    assert cfg["host_status"] == {"stale_after_s": 30, "down_after_s": 90}
    assert cfg["loopback_interfaces"] == ["lo", "lo0"]
    alerting = cfg["alerting"]
    assert alerting["severities"] == ["info", "warning", "critical"]
    assert "avg" in alerting["aggregates"]
    assert ">=" in alerting["comparisons"]
    kinds = {k["kind"]: k for k in alerting["channel_kinds"]}
    assert kinds["slack"]["required"] == ["webhook_url"]
    assert kinds["slack"]["public"] == []  # the webhook URL is a secret
    assert kinds["email"]["required"] == ["host", "from", "to"]
    assert "host" in kinds["email"]["public"]


def test_rule_preview_says_where_the_rule_would_fire(api: ApiServer) -> None:
    c, viewer = api.client, api.auth("viewer")
    t = now_s()
    hosts = {uniq("pv-a"): 50.0, uniq("pv-b"): 90.0, uniq("pv-c"): 97.0}
    for name, value in hosts.items():
        key = api.enroll(name, labels={"role": "db" if value > 60 else "web"})
        push(api, key, [mem(value, t - 20), mem(value, t - 10)])
    names = sorted(hosts)
    before = len(c.get(f"{R}/rules", headers=viewer).json())

    got = c.post(f"{R}/rules/preview", json=rule(scope={"hosts": names}), headers=viewer)
    assert got.status_code == 200, got.text
    p = got.json()
    assert p["hosts_in_scope"] == 3
    assert p["hosts_with_data"] == 3
    assert p["matching"] == 2
    assert p["would_fire_now"] == 2
    # Matching hosts first, worst first; the deciding value is the window's average.
    order = sorted(hosts, key=lambda h: (hosts[h] <= 85, -hosts[h]))
    assert [h["host"] for h in p["hosts"]] == order
    assert [h["matches"] for h in p["hosts"]] == [True, True, False]
    assert p["hosts"][0]["value"] == pytest.approx(97.0)

    # for_s: they would be pending, not firing; scope by label narrows the hosts.
    p = c.post(
        f"{R}/rules/preview",
        json=rule(for_s=300, scope={"hosts": names, "labels": {"role": "web"}}),
        headers=viewer,
    ).json()
    assert (p["hosts_in_scope"], p["matching"], p["would_fire_now"]) == (1, 0, 0)
    # A low-side rule holds where the value is low.
    p = c.post(
        f"{R}/rules/preview",
        json=rule(comparison="<", threshold=60, scope={"hosts": names}),
        headers=viewer,
    ).json()
    assert [h["host"] for h in p["hosts"] if h["matches"]] == [order[-1]]
    # Previewing saves nothing.
    assert len(c.get(f"{R}/rules", headers=viewer).json()) == before


def test_rule_preview_groups_series_and_host_down(api: ApiServer) -> None:
    c, viewer = api.client, api.auth("viewer")
    t = now_s()
    name = uniq("pv-disk")
    key = api.enroll(name)
    push(api, key, [disk("/", 70.0, t - 5), disk("/data", 93.0, t - 5)])
    p = c.post(
        f"{R}/rules/preview",
        json=rule(
            metric="disk.used_percent", aggregate="last", threshold=90, scope={"hosts": [name]}
        ),
        headers=viewer,
    ).json()
    (host,) = p["hosts"]
    assert host["matches"] is True
    assert host["value"] == pytest.approx(93.0)
    series = {s["tags"]["path"]: s["matches"] for s in host["series"]}
    assert series == {"/": False, "/data": True}
    # Host down: seconds since the newest heartbeat; this host was just heard from.
    p = c.post(
        f"{R}/rules/preview",
        json=rule(kind="host_down", metric="", window_s=120, scope={"hosts": [name]}),
        headers=viewer,
    ).json()
    (host,) = p["hosts"]
    assert host["matches"] is False
    assert 0 <= host["value"] < 60
    # An invalid rule is the same 422 as saving it would be.
    bad = c.post(f"{R}/rules/preview", json=rule(metric="mem"), headers=viewer)
    assert bad.status_code == 422
    assert "measurement.field" in str(bad.json()["detail"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def test_channel_test_goes_through_the_worker_outbox(
    tight_api: ApiServer, receiver: Receiver
) -> None:
    c, admin = tight_api.client, tight_api.auth()
    name = uniq("hook")
    ch = c.post(
        f"{R}/channels",
        json={"name": name, "kind": "webhook", "config": {"url": f"{receiver.url}/hook"}},
        headers=admin,
    ).json()
    assert (
        c.post(f"{R}/channels/{ch['id']}/test", headers=tight_api.auth("viewer")).status_code == 403
    )
    assert c.post(f"{R}/channels/999999/test", headers=admin).status_code == 404
    queued = c.post(f"{R}/channels/{ch['id']}/test", headers=admin)
    assert queued.status_code == 202, queued.text
    n = queued.json()
    assert (n["status"], n["attempts"], n["channel_id"]) == ("pending", 0, ch["id"])
    assert not receiver.ok()  # the API sends nothing itself

    # The alert worker's dispatcher (what `fleetmon-alerts run` runs) delivers it.
    engine = make_engine(tight_api.settings.database_url)
    dispatcher = Dispatcher(
        make_sessionmaker(engine), SystemClock(), policy=RetryPolicy(0.1, 0.2, 1)
    )
    try:
        assert dispatcher.drain(timeout_s=10)
    finally:
        dispatcher.stop()
        engine.dispose()
    (got,) = receiver.wait_for(1)
    doc = got.json()
    assert doc["rule"] == "Test notification"
    assert doc["test"] is True
    assert doc["host_url"] == "https://fleet.example.test/hosts/test-host"
    assert name in doc["annotations"]["summary"]
    assert "admin" in doc["annotations"]["summary"]
    done = c.get(f"{R}/notifications/{n['id']}", headers=admin).json()
    assert done["status"] == "sent"
    assert done["attempts"] == 1
    assert done["sent_at"] is not None
    assert (
        c.get(f"{R}/notifications/{n['id']}", headers=tight_api.auth("viewer")).status_code == 403
    )
    assert c.get(f"{R}/notifications/999999", headers=admin).status_code == 404
    # The history keeps the test, marked as one (not an alert state).
    history = c.get(f"{R}/history", headers=admin).json()
    test = next(e for e in history if e["id"] == done["event_id"])
    assert (test["from_status"], test["to_status"]) == ("test", "test")
    assert test["details"]["channel"] == name


def test_channel_test_reports_the_receivers_refusal(
    tight_api: ApiServer, receiver: Receiver
) -> None:
    c, admin = tight_api.client, tight_api.auth()
    ch = c.post(
        f"{R}/channels",
        json={
            "name": uniq("refused"),
            "kind": "webhook",
            "config": {"url": f"{receiver.url}/nope"},
        },
        headers=admin,
    ).json()
    receiver.responder = lambda n, doc: (400, {})  # a permanent refusal: no retry
    n = c.post(f"{R}/channels/{ch['id']}/test", headers=admin).json()
    engine = make_engine(tight_api.settings.database_url)
    dispatcher = Dispatcher(
        make_sessionmaker(engine), SystemClock(), policy=RetryPolicy(0.1, 0.2, 3)
    )
    try:
        assert dispatcher.drain(timeout_s=10)
    finally:
        dispatcher.stop()
        engine.dispose()
    done = c.get(f"{R}/notifications/{n['id']}", headers=admin).json()
    assert done["status"] == "failed"
    assert "400" in (done["last_error"] or "")
    assert receiver.url not in (done["last_error"] or "")


def test_expire_a_silence_keeps_it_as_a_record(tight_api: ApiServer) -> None:
    c, admin = tight_api.client, tight_api.auth()
    ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    s = c.post(
        f"{R}/silences",
        json={"host": uniq("quiet"), "ends_at": ends, "comment": "maintenance"},
        headers=admin,
    ).json()
    assert s["active"] is True
    assert (
        c.post(f"{R}/silences/{s['id']}/expire", headers=tight_api.auth("viewer")).status_code
        == 403
    )
    assert c.post(f"{R}/silences/999999/expire", headers=admin).status_code == 404
    before = datetime.now(UTC)
    expired = c.post(f"{R}/silences/{s['id']}/expire", headers=admin)
    assert expired.status_code == 200, expired.text
    out = expired.json()
    assert out["active"] is False
    assert datetime.fromisoformat(out["ends_at"]) <= datetime.now(UTC)
    assert datetime.fromisoformat(out["ends_at"]) >= before - timedelta(seconds=1)
    current = [x["id"] for x in c.get(f"{R}/silences", headers=admin).json()]
    assert s["id"] not in current
    kept = c.get(f"{R}/silences", params={"include_expired": "true"}, headers=admin).json()
    assert next(x for x in kept if x["id"] == s["id"])["comment"] == "maintenance"
    # Expiring again changes nothing.
    again = c.post(f"{R}/silences/{s['id']}/expire", headers=admin).json()
    assert again["ends_at"] == out["ends_at"]


def _validator(doc: dict[str, Any], path: str, method: str = "get") -> Any:
    schema = doc["paths"][path][method]["responses"]
    ok = next(v for k, v in schema.items() if k.startswith("2"))
    root = {**ok["content"]["application/json"]["schema"], "components": doc["components"]}
    return jsonschema_rs.validator_for(root)


def test_answers_the_ui_reads_conform_to_the_published_schema(tight_api: ApiServer) -> None:
    """What the server really sends is what the UI's types say (the overview is documented,
    not validated, on the server: this holds the two together)."""
    c, admin = tight_api.client, tight_api.auth()
    doc = c.get("/openapi.json").json()
    name = uniq("conform")
    key = tight_api.enroll(name, labels={"env": "test"})
    t = now_s()
    push(tight_api, key, [mem(42.0, t - 1), disk("/", 61.5, t - 1)])
    time.sleep(0.05)
    checks: list[tuple[str, str, dict[str, Any]]] = [
        ("/api/v1/metrics/overview", "/api/v1/metrics/overview", {}),
        ("/api/v1/hosts/{host}", f"/api/v1/hosts/{name}", {}),
        ("/api/v1/metrics/current", "/api/v1/metrics/current", {"host": name}),
        ("/api/v1/metrics/{category}", "/api/v1/metrics/disk", {"host": name}),
        (
            "/api/v1/metrics/history",
            "/api/v1/metrics/history",
            {"host": name, "metric": "mem.used_percent", "start": str(t - 600)},
        ),
        (
            "/api/v1/metrics/summary",
            "/api/v1/metrics/summary",
            {"host": name, "metric": "mem.used_percent"},
        ),
        ("/api/v1/alerts/active", "/api/v1/alerts/active", {}),
        ("/api/v1/alerts/history", "/api/v1/alerts/history", {}),
        ("/api/v1/alerts/rules", "/api/v1/alerts/rules", {}),
        ("/api/v1/ui/config", "/api/v1/ui/config", {}),
        ("/api/v1/auth/me", "/api/v1/auth/me", {}),
    ]
    for template, url, params in checks:
        r = c.get(url, params=params, headers=admin)
        assert r.status_code == 200, (url, r.text)
        body = r.json()
        _validator(doc, template).validate(body)
    # The check can fail: an extra wrapper is not the overview's shape.
    with pytest.raises(jsonschema_rs.ValidationError):
        _validator(doc, "/api/v1/metrics/overview").validate({"hosts": {"items": []}})
    overview = c.get("/api/v1/metrics/overview", headers=admin).json()
    row = next(h for h in overview["hosts"] if h["name"] == name)
    assert row["mem_percent"] == 42.0
    assert row["disk_path"] == "/"


@pytest.fixture
def previews(tight_api: ApiServer) -> Iterator[None]:
    """The worker's preview step in a thread (tests/support/previews.py)."""
    with preview_responder(tight_api.settings.database_url, tight_api.settings.store_url):
        yield


def preview_rows(api: ApiServer) -> int:
    engine = make_engine(api.settings.database_url)
    try:
        with make_sessionmaker(engine)() as db:
            return len(db.query(NotificationPreview).all())
    finally:
        engine.dispose()


def test_notification_preview_without_a_worker_says_so(tight_api: ApiServer) -> None:
    c, admin = tight_api.client, tight_api.auth()
    ch = c.post(
        f"{R}/channels",
        json={"name": uniq("log"), "kind": "log", "config": {}},
        headers=admin,
    ).json()
    started = time.monotonic()
    r = c.get(f"{R}/channels/{ch['id']}/preview", headers=admin)
    waited = time.monotonic() - started
    assert r.status_code == 503, r.text
    assert "`fleetmon-alerts run`" in r.json()["detail"]
    assert r.headers["Retry-After"] == "5"
    assert 1.0 <= waited < 5.0  # notification_preview_wait_s, not forever
    assert preview_rows(tight_api) == 0  # the request given up on is not left behind


def test_notification_preview_renders_what_the_channel_sends(
    tight_api: ApiServer, previews: None
) -> None:
    c, admin = tight_api.client, tight_api.auth()
    slack_url = "https://hooks.slack.example.test/services/T0/B0/secret-path"
    ch = c.post(
        f"{R}/channels",
        json={"name": uniq("slack"), "kind": "slack", "config": {"webhook_url": slack_url}},
        headers=admin,
    ).json()
    mail = c.post(
        f"{R}/channels",
        json={
            "name": uniq("mail"),
            "kind": "email",
            "config": {"host": "smtp.example.test", "from": "fm@example.test",
                       "to": ["oncall@example.test"], "password": "hunter2"},
            "min_severity": "critical",
            "send_resolved": False,
        },
        headers=admin,
    ).json()  # fmt: skip
    url = f"{R}/channels/{ch['id']}/preview"
    assert c.get(url, headers=tight_api.auth("viewer")).status_code == 403
    assert c.get(f"{R}/channels/999999/preview", headers=admin).status_code == 404
    assert c.get(url, params={"host": "x"}, headers=admin).status_code == 422

    # A sample: the Block Kit body the worker posts, with people's times, no secret.
    r = c.get(url, headers=admin)
    assert r.status_code == 200, r.text
    sample = r.json()
    assert (sample["source"], sample["status"], sample["format"]) == ("sample", "firing", "json")
    blocks = json.loads(sample["body"])
    fields = " ".join(f["text"] for b in blocks["blocks"] for f in b.get("fields", []))
    assert "Firing since" in fields
    assert "(35 min)" in fields
    # The title as the reader sees it; the body as posted (mrkdwn-escaped).
    assert sample["title"].endswith(": 92.50 (> 80)")
    assert blocks["text"].endswith(": 92.50 (&gt; 80)")
    assert (sample["would_send"], sample["why_not"]) == (True, None)
    assert "secret-path" not in sample["body"]
    resolved = c.get(url, params={"status": "resolved"}, headers=admin).json()
    assert "Resolved at" in resolved["body"]
    assert "after 35 min" in resolved["body"]
    email_text = c.get(f"{R}/channels/{mail['id']}/preview", headers=admin).json()
    assert email_text["format"] == "text"
    assert "To: oncall@example.test" in email_text["body"]
    assert "hunter2" not in email_text["body"]
    resolved_mail = c.get(
        f"{R}/channels/{mail['id']}/preview", params={"status": "resolved"}, headers=admin
    ).json()
    assert resolved_mail["why_not"] == "the channel does not take resolved notifications"

    # An actual alert, evaluated by the worker: its rule, host, value and summary.
    host = uniq("prev-host")
    key = tight_api.enroll(host)
    now = now_s()
    push(tight_api, key, [mem(97.0, now - s) for s in (0, 10, 20)])
    rule_id = c.post(
        f"{R}/rules",
        json=rule(for_s=0, window_s=60, annotations={"summary": "$host memory at $value %"}),
        headers=admin,
    ).json()["id"]
    engine = make_engine(tight_api.settings.database_url)
    store = open_store(tight_api.settings.store_url)
    try:
        fired = Evaluator(make_sessionmaker(engine), store, SystemClock()).run_once()
    finally:
        store.close()
        engine.dispose()
    assert [(d.host, d.to_status) for d in fired if d.host == host] == [(host, "firing")]
    r = c.get(url, params={"rule_id": rule_id, "host": host}, headers=admin)
    assert r.status_code == 200, r.text
    actual = r.json()
    assert actual["source"] == "alert"
    assert host in actual["title"]
    assert f"{host} memory at 97.00 %" in actual["body"]
    assert f"https://fleet.example.test/hosts/{host}" in actual["body"]
    assert actual["would_send"] is True
    # The worker would not send a warning to a channel that takes critical alerts only.
    to_mail = c.get(
        f"{R}/channels/{mail['id']}/preview", params={"rule_id": rule_id, "host": host},
        headers=admin,
    ).json()  # fmt: skip
    assert to_mail["would_send"] is False
    assert to_mail["why_not"] == "severity warning is below the channel's minimum (critical)"
    missing = c.get(url, params={"rule_id": rule_id, "host": "nobody"}, headers=admin)
    assert missing.status_code == 404
    assert preview_rows(tight_api) == 0  # each request is deleted once answered
