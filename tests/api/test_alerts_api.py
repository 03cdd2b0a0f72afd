"""Alerts API: rules CRUD with validation, write-only channel secrets, silences, active
alerts and history with filters, and who may do what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import fleetmon_alerts.channels
from fleetmon_alerts.channels import REGISTRY, ChannelContext, build
from fleetmon_db.alerting import CHANNELS
from fleetmon_db.alerting.channels import is_url_key
from fleetmon_db.models import AlertEvent, AlertRule, AlertState
from tests.api.harness import ApiServer

R = "/api/v1/alerts"


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def rule_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": uniq("rule"),
        "metric": "mem.used_percent",
        "aggregate": "avg",
        "window_s": 60,
        "comparison": ">",
        "threshold": 85,
        "for_s": 120,
        "severity": "warning",
        "scope": {"labels": {"role": "db"}},
        "annotations": {"summary": "$host memory at $value %"},
    }
    body.update(over)
    return body


def test_rule_crud(sqlite_api: ApiServer) -> None:
    c, admin = sqlite_api.client, sqlite_api.auth()
    r = c.post(f"{R}/rules", json=rule_body(name="mem-x"), headers=admin)
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule["builtin"] is False
    assert rule["scope"] == {"hosts": [], "labels": {"role": "db"}}
    assert c.post(f"{R}/rules", json=rule_body(name="mem-x"), headers=admin).status_code == 409
    got = c.get(f"{R}/rules/{rule['id']}", headers=sqlite_api.auth("viewer")).json()
    assert got["threshold"] == 85
    r = c.put(f"{R}/rules/{rule['id']}", json=rule_body(name="mem-x", threshold=90), headers=admin)
    assert r.status_code == 200
    assert r.json()["threshold"] == 90
    names = [x["name"] for x in c.get(f"{R}/rules", headers=admin).json()]
    assert "mem-x" in names
    assert c.delete(f"{R}/rules/{rule['id']}", headers=admin).status_code == 204
    assert c.get(f"{R}/rules/{rule['id']}", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"metric": "cpu"}, "measurement.field"),
        ({"metric": "cpu.usage; DROP"}, "measurement.field"),
        ({"aggregate": "median"}, "aggregate"),
        ({"comparison": "=>"}, "comparison"),
        ({"window_s": 0}, "window_s"),
        ({"for_s": -1}, "for_s"),
        ({"severity": "panic"}, "severity"),
        ({"kind": "agent_health", "metric": "cpu.usage_idle"}, "fleetmon_agent"),
        ({"scope": {"hosts": ["a"], "everything": True}}, "everything"),
        ({"channels": ["no-such-channel"]}, "unknown channel"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_rule_validation(sqlite_api: ApiServer, over: dict[str, Any], needle: str) -> None:
    r = sqlite_api.client.post(f"{R}/rules", json=rule_body(**over), headers=sqlite_api.auth())
    assert r.status_code == 422, r.text
    assert needle in str(r.json()["detail"])


def test_threshold_must_be_finite(sqlite_api: ApiServer) -> None:
    body = '{"name": "nan-rule", "metric": "cpu.usage_idle", "threshold": NaN}'
    r = sqlite_api.client.post(
        f"{R}/rules",
        content=body,
        headers={**sqlite_api.auth(), "Content-Type": "application/json"},
    )
    assert r.status_code == 422


def test_host_down_rule_needs_no_metric(sqlite_api: ApiServer) -> None:
    body = rule_body(kind="host_down", metric="", window_s=120)
    assert (
        sqlite_api.client.post(f"{R}/rules", json=body, headers=sqlite_api.auth()).status_code
        == 201
    )


def test_viewers_read_admins_write(sqlite_api: ApiServer) -> None:
    c, viewer = sqlite_api.client, sqlite_api.auth("viewer")
    assert c.get(f"{R}/rules", headers=viewer).status_code == 200
    assert c.post(f"{R}/rules", json=rule_body(), headers=viewer).status_code == 403
    assert c.get(f"{R}/channels", headers=viewer).status_code == 403
    assert c.get(f"{R}/rules").status_code == 401


def test_channel_secrets_are_write_only(sqlite_api: ApiServer) -> None:
    c, admin = sqlite_api.client, sqlite_api.auth()
    secret_url = "https://hooks.slack.test/services/T000/B000/SECRETSECRET"
    name = uniq("slack")
    r = c.post(
        f"{R}/channels",
        json={"name": name, "kind": "slack", "config": {"webhook_url": secret_url}},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    ch = r.json()
    assert "SECRETSECRET" not in r.text
    assert ch["secret_keys"] == ["webhook_url"]
    assert ch["config"] == {}
    listing = c.get(f"{R}/channels", headers=admin)
    assert "SECRETSECRET" not in listing.text
    # Updating without the secret keeps it; the stored value is still the original.
    r = c.put(
        f"{R}/channels/{ch['id']}",
        json={"name": name, "kind": "slack", "min_severity": "critical"},
        headers=admin,
    )
    assert r.status_code == 200
    assert r.json()["min_severity"] == "critical"
    with sqlite_api.state.sessions() as s:
        from fleetmon_db.models import AlertChannel

        assert s.get(AlertChannel, ch["id"]).config["webhook_url"] == secret_url
    email = {
        "name": uniq("mail"),
        "kind": "email",
        "config": {
            "host": "smtp.test",
            "port": 587,
            "from": "a@b.test",
            "to": ["c@d.test"],
            "password": "pw1",
        },
    }
    r = c.post(f"{R}/channels", json=email, headers=admin)
    assert r.status_code == 201
    assert r.json()["config"]["host"] == "smtp.test"
    assert "pw1" not in r.text
    assert r.json()["secret_keys"] == ["password"]
    bad = {"name": uniq("bad"), "kind": "slack", "config": {}}
    assert c.post(f"{R}/channels", json=bad, headers=admin).status_code == 422
    bad = {"name": uniq("bad"), "kind": "webhook", "config": {"url": "file:///etc/passwd"}}
    assert c.post(f"{R}/channels", json=bad, headers=admin).status_code == 422
    assert c.delete(f"{R}/channels/{ch['id']}", headers=admin).status_code == 204


def test_silences(sqlite_api: ApiServer) -> None:
    c, admin = sqlite_api.client, sqlite_api.auth()
    now = datetime.now(UTC)
    body = {"host": "web-1", "ends_at": (now + timedelta(hours=1)).isoformat(), "comment": "deploy"}
    r = c.post(f"{R}/silences", json=body, headers=admin)
    assert r.status_code == 201, r.text
    sil = r.json()
    assert sil["active"]
    assert sil["created_by"] == "admin"
    everything = {"ends_at": (now + timedelta(hours=1)).isoformat()}
    assert c.post(f"{R}/silences", json=everything, headers=admin).status_code == 422
    backwards = {**body, "starts_at": (now + timedelta(hours=2)).isoformat()}
    assert c.post(f"{R}/silences", json=backwards, headers=admin).status_code == 422
    ids = [s["id"] for s in c.get(f"{R}/silences", headers=sqlite_api.auth("viewer")).json()]
    assert sil["id"] in ids
    assert c.delete(f"{R}/silences/{sil['id']}", headers=admin).status_code == 204
    assert c.delete(f"{R}/silences/{sil['id']}", headers=admin).status_code == 404


def test_ids_beyond_the_column_range_are_422_not_500(sqlite_api: ApiServer) -> None:
    c, admin = sqlite_api.client, sqlite_api.auth()
    huge = 402146297845631286146569577955328
    for path in (f"{R}/rules/{huge}", f"{R}/rules/{2**31}"):
        r = c.get(path, headers=admin)
        assert r.status_code == 422, (path, r.text)
    assert c.delete(f"{R}/channels/{huge}", headers=admin).status_code == 422
    assert c.delete(f"{R}/silences/{huge}", headers=admin).status_code == 422
    assert c.get(f"{R}/history", params={"before_id": huge}, headers=admin).status_code == 422
    silence = {"rule_id": huge, "ends_at": "2030-01-01T00:00:00Z"}
    assert c.post(f"{R}/silences", json=silence, headers=admin).status_code == 422


@pytest.mark.parametrize(
    ("ends_at", "why"),
    [
        ("9999-12-31T23:59:59-23:59", "out of range"),  # overflows when moved to UTC
        ("2300-01-01T00:00:00Z", "between 1970 and 2100"),
        ("2030-01-01T00:00:00", "needs a timezone"),
    ],
)
def test_silence_times_out_of_range_are_422_not_500(
    sqlite_api: ApiServer, ends_at: str, why: str
) -> None:
    c, admin = sqlite_api.client, sqlite_api.auth()
    r = c.post(f"{R}/silences", json={"host": "web-1", "ends_at": ends_at}, headers=admin)
    assert r.status_code == 422, r.text
    assert why in r.text
    r = c.get(f"{R}/history", params={"start": ends_at}, headers=admin)
    assert r.status_code == 422, r.text
    assert why in r.text


def test_active_and_history_with_filters(sqlite_api: ApiServer) -> None:
    host = uniq("h")
    now = datetime.now(UTC)
    with sqlite_api.state.sessions() as s:
        rule = AlertRule(name=uniq("r"), metric="cpu.usage_idle", severity="critical")
        s.add(rule)
        s.flush()
        s.add(
            AlertState(
                rule_id=rule.id,
                fingerprint=uniq("fp"),
                host=host,
                status="firing",
                value=3.0,
                pending_since=now,
                firing_since=now,
                annotations={"summary": "busy"},
            )
        )
        for frm, to in (("inactive", "pending"), ("pending", "firing")):
            s.add(
                AlertEvent(
                    rule_id=rule.id,
                    rule_name=rule.name,
                    fingerprint="x",
                    host=host,
                    severity="critical",
                    from_status=frm,
                    to_status=to,
                    value=3.0,
                    at=now,
                )
            )
        s.commit()
        rule_id = rule.id
    c, viewer = sqlite_api.client, sqlite_api.auth("viewer")
    active = c.get(f"{R}/active", params={"host": host}, headers=viewer).json()
    assert [(a["host"], a["status"], a["severity"]) for a in active] == [
        (host, "firing", "critical")
    ]
    assert active[0]["annotations"] == {"summary": "busy"}
    assert (
        c.get(f"{R}/active", params={"host": host, "state": "pending"}, headers=viewer).json() == []
    )
    hist = c.get(f"{R}/history", params={"host": host}, headers=viewer).json()
    assert [e["to_status"] for e in hist] == ["firing", "pending"]  # newest first
    only = c.get(
        f"{R}/history", params={"rule_id": rule_id, "to_status": "pending"}, headers=viewer
    ).json()
    assert [e["to_status"] for e in only] == ["pending"]
    later = (now + timedelta(minutes=1)).isoformat()
    assert c.get(f"{R}/history", params={"host": host, "start": later}, headers=viewer).json() == []
    assert c.get(f"{R}/history", params={"limit": 5000}, headers=viewer).status_code == 422


def _minimal_config(kind: str) -> dict[str, Any]:
    """The required keys of a kind, with plausible values (endpoints as https URLs)."""
    return {
        key: "https://receiver.test/hook" if is_url_key(key) else f"{key}-value"
        for key in CHANNELS[kind].required
    }


def test_a_new_destination_does_not_inherit_the_stored_secret(sqlite_api: ApiServer) -> None:
    """Issue 15.6: a changed webhook URL or SMTP host used to keep the stored HMAC secret or
    password and send it (or sign with it) to the new destination."""
    from fleetmon_db.models import AlertChannel

    c, admin = sqlite_api.client, sqlite_api.auth()

    def stored(channel_id: int) -> dict[str, object]:
        with sqlite_api.state.sessions() as s:
            config: dict[str, object] = s.get(AlertChannel, channel_id).config
            return config

    name = uniq("hook")
    hook = {"url": "https://hooks.example.test/a", "secret": "hmac-secret"}
    r = c.post(
        f"{R}/channels", json={"name": name, "kind": "webhook", "config": hook}, headers=admin
    )
    assert r.status_code == 201, r.text
    hid = r.json()["id"]
    # The same URL again (or none): the secret stays.
    same = {"name": name, "kind": "webhook", "config": {"url": hook["url"]}}
    assert c.put(f"{R}/channels/{hid}", json=same, headers=admin).json()["secret_keys"] == [
        "secret",
        "url",
    ]
    # Another URL without the secret: the secret is gone.
    moved = {"name": name, "kind": "webhook", "config": {"url": "https://evil.example.test/"}}
    r = c.put(f"{R}/channels/{hid}", json=moved, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["secret_keys"] == ["url"]
    assert stored(hid) == {"url": "https://evil.example.test/"}
    # Another URL with a new secret given in the same request keeps that one.
    given = {"url": "https://hooks.example.test/b", "secret": "new-secret"}
    body = {"name": name, "kind": "webhook", "config": given}
    assert c.put(f"{R}/channels/{hid}", json=body, headers=admin).status_code == 200
    assert stored(hid) == given

    mail = uniq("mail")
    config = {
        "host": "smtp.example.test",
        "port": 587,
        "from": "a@b.test",
        "to": ["c@d.test"],
        "username": "alerts",
        "password": "pw1",
    }
    r = c.post(
        f"{R}/channels", json={"name": mail, "kind": "email", "config": config}, headers=admin
    )
    mid = r.json()["id"]
    for change in ({"port": 2525}, {"security": "none"}, {"host": "smtp.evil.test"}):
        restore = {"name": mail, "kind": "email", "config": config}
        assert c.put(f"{R}/channels/{mid}", json=restore, headers=admin).status_code == 200
        assert stored(mid)["password"] == "pw1"
        body = {"name": mail, "kind": "email", "config": change}
        r = c.put(f"{R}/channels/{mid}", json=body, headers=admin)
        assert r.status_code == 200, r.text
        kept = stored(mid)
        assert "password" not in kept, change
        assert "username" not in kept, change
        assert kept["from"] == "a@b.test"  # what is not a credential stays


def test_api_and_worker_accept_the_same_channel_kinds(sqlite_api: ApiServer) -> None:
    c, admin = sqlite_api.client, sqlite_api.auth()
    schema = c.get("/openapi.json").json()["components"]["schemas"]["ChannelIn"]
    published = set(schema["properties"]["kind"]["enum"])
    assert published == set(REGISTRY), "the API and the worker disagree on channel kinds"
    for kind in sorted(published):
        body = {"name": uniq(kind), "kind": kind, "config": _minimal_config(kind)}
        r = c.post(f"{R}/channels", json=body, headers=admin)
        assert r.status_code == 201, (kind, r.text)
        # What the API stored, the worker builds (no network: building only reads config).
        with sqlite_api.state.sessions() as s:
            from fleetmon_db.models import AlertChannel

            stored = s.get(AlertChannel, r.json()["id"])
            assert stored is not None
            build(stored.kind, stored.config, ChannelContext()).close()
        if CHANNELS[kind].required:
            short = {**body, "name": uniq(kind), "config": {}}
            r = c.post(f"{R}/channels", json=short, headers=admin)
            assert r.status_code == 422
            assert CHANNELS[kind].required[0] in r.text
    r = c.post(f"{R}/channels", json={"name": uniq("x"), "kind": "pager"}, headers=admin)
    assert r.status_code == 422
    assert "unknown channel kind 'pager'" in r.text


def test_every_channel_module_is_a_registered_kind() -> None:
    """A module in fleetmon_alerts/channels without its registry line would never be used."""
    package = Path(fleetmon_alerts.channels.__file__).parent
    modules = {p.stem for p in package.glob("*.py")} - {"__init__", "base"}
    assert modules == set(CHANNELS)
