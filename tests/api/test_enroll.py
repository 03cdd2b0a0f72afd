"""Enrollment tokens and the enroll endpoint (the agent relies on its exact shape)."""

from __future__ import annotations

from tests.api.harness import ApiServer

ENROLL = "/api/v1/hosts/enroll"


def _token(api: ApiServer, **body: object) -> str:
    r = api.client.post("/api/v1/enroll-tokens", json=body, headers=api.auth())
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def test_enroll_shape_and_labels(sqlite_api: ApiServer) -> None:
    token = _token(sqlite_api, labels={"env": "prod"}, max_uses=2)
    r = sqlite_api.client.post(
        ENROLL, json={"token": token, "name": "web-1", "labels": {"role": "web"}}
    )
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"host_id", "host", "api_key"}
    assert body["host"] == "web-1"
    assert isinstance(body["host_id"], int)
    assert body["api_key"].startswith("fm_")
    host = sqlite_api.client.get("/api/v1/hosts/web-1", headers=sqlite_api.auth()).json()
    assert host["labels"] == {"env": "prod", "role": "web"}
    assert host["status"] == "down"
    assert host["active_keys"] == 1


def test_reenroll_same_name_is_409(sqlite_api: ApiServer) -> None:
    token = _token(sqlite_api, max_uses=5)
    assert sqlite_api.client.post(ENROLL, json={"token": token, "name": "dup-1"}).status_code == 201
    r = sqlite_api.client.post(ENROLL, json={"token": token, "name": "dup-1"})
    assert r.status_code == 409
    assert "already enrolled" in r.json()["detail"]


def test_token_use_limit_expiry_and_revocation(sqlite_api: ApiServer) -> None:
    once = _token(sqlite_api, max_uses=1)
    assert sqlite_api.client.post(ENROLL, json={"token": once, "name": "u-1"}).status_code == 201
    r = sqlite_api.client.post(ENROLL, json={"token": once, "name": "u-2"})
    assert (r.status_code, r.json()["detail"]) == (401, "enrollment token used up")

    r = sqlite_api.client.post("/api/v1/enroll-tokens", json={}, headers=sqlite_api.auth())
    tid, token = r.json()["id"], r.json()["token"]
    assert (
        sqlite_api.client.delete(
            f"/api/v1/enroll-tokens/{tid}", headers=sqlite_api.auth()
        ).status_code
        == 204
    )
    r = sqlite_api.client.post(ENROLL, json={"token": token, "name": "u-3"})
    assert (r.status_code, r.json()["detail"]) == (401, "enrollment token revoked")

    listed = sqlite_api.client.get("/api/v1/enroll-tokens", headers=sqlite_api.auth()).json()
    assert all("token" not in t and "token_hash" not in t for t in listed)

    r = sqlite_api.client.post(ENROLL, json={"token": "fme_bogus", "name": "u-4"})
    assert (r.status_code, r.json()["detail"]) == (401, "invalid enrollment token")


def test_bad_host_name_and_unknown_fields_are_422(sqlite_api: ApiServer) -> None:
    token = _token(sqlite_api)
    r = sqlite_api.client.post(ENROLL, json={"token": token, "name": "bad name;drop"})
    assert r.status_code == 422
    assert "host name" in r.json()["detail"]
    r = sqlite_api.client.post(ENROLL, json={"token": token, "name": "ok", "extra": 1})
    assert r.status_code == 422


def test_delete_host(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll("gone-1")
    r = sqlite_api.client.delete(
        "/api/v1/hosts/gone-1", params={"purge": "true"}, headers=sqlite_api.auth()
    )
    assert r.status_code == 204
    assert (
        sqlite_api.client.get("/api/v1/hosts/gone-1", headers=sqlite_api.auth()).status_code == 404
    )
    r = sqlite_api.client.post(
        "/api/v1/metrics/collect", json={"batch_id": "x", "points": []},
        headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip
    assert r.status_code == 401
