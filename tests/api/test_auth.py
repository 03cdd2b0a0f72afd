"""Auth matrix: host keys and people's JWTs, roles, and every way a token can be wrong."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import jwt
import pytest

from tests.api.harness import SECRET, ApiServer, batch

COLLECT = "/api/v1/metrics/collect"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_collect_without_key_is_401(sqlite_api: ApiServer) -> None:
    r = sqlite_api.client.post(COLLECT, json=batch())
    assert r.status_code == 401
    assert "missing host API key" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("key", ["fm_nope", "fm_" + "A" * 43, "garbage", "Bearer"])
def test_collect_with_bad_key_is_401(sqlite_api: ApiServer, key: str) -> None:
    r = sqlite_api.client.post(COLLECT, json=batch(), headers=_bearer(key))
    assert r.status_code == 401
    assert r.json()["detail"] == "invalid host API key"


def test_right_prefix_wrong_secret_is_401(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll()
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    r = sqlite_api.client.post(COLLECT, json=batch(), headers=_bearer(forged))
    assert r.status_code == 401


def test_revoked_key_is_401_immediately(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll("revoke-me")
    assert sqlite_api.client.post(COLLECT, json=batch(), headers=_bearer(key)).status_code == 202
    r = sqlite_api.client.post("/api/v1/hosts/revoke-me/keys/revoke", headers=sqlite_api.auth())
    assert r.status_code == 204
    r = sqlite_api.client.post(COLLECT, json=batch(), headers=_bearer(key))
    assert r.status_code == 401
    assert r.json()["detail"] == "host API key revoked"


def test_rotated_key_overlaps_then_old_expires(sqlite_api: ApiServer) -> None:
    old = sqlite_api.enroll("rotate-me")
    r = sqlite_api.client.post(
        "/api/v1/hosts/rotate-me/keys/rotate", params={"overlap_s": 3600}, headers=sqlite_api.auth()
    )
    assert r.status_code == 201
    new = r.json()["api_key"]
    assert sqlite_api.client.post(COLLECT, json=batch(), headers=_bearer(old)).status_code == 202
    assert sqlite_api.client.post(COLLECT, json=batch(), headers=_bearer(new)).status_code == 202
    r = sqlite_api.client.post(
        "/api/v1/hosts/rotate-me/keys/rotate", params={"overlap_s": 0}, headers=sqlite_api.auth()
    )
    newest = r.json()["api_key"]
    for stale in (old, new):
        r = sqlite_api.client.post(COLLECT, json=batch(), headers=_bearer(stale))
        assert r.status_code == 401
        assert r.json()["detail"] == "host API key expired"
    assert sqlite_api.client.post(COLLECT, json=batch(), headers=_bearer(newest)).status_code == 202


def test_host_key_is_not_a_person_token(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll()
    r = sqlite_api.client.get("/api/v1/hosts", headers=_bearer(key))
    assert r.status_code == 401


def _claims(**over: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "admin", "role": "admin", "iat": now, "exp": now + 60,
        "iss": "fleetmon", "aud": "fleetmon-api",
    }  # fmt: skip
    claims.update(over)
    return claims


# Tokens are minted inside the test: minted at collection time, a 60 s token would have
# expired by the time a long suite reaches it, and every case would read "token expired".
BAD_TOKENS: dict[str, tuple[Callable[[], str], str]] = {
    "expired": (
        lambda: jwt.encode(_claims(exp=int(time.time()) - 10), SECRET, "HS256"),
        "token expired",
    ),
    "audience": (lambda: jwt.encode(_claims(aud="someone-else"), SECRET, "HS256"), "invalid token"),
    "issuer": (lambda: jwt.encode(_claims(iss="evil"), SECRET, "HS256"), "invalid token"),
    "signature": (lambda: jwt.encode(_claims(), "x" * 80, "HS256"), "invalid token"),
    "alg-not-pinned": (lambda: jwt.encode(_claims(), SECRET, "HS512"), "invalid token"),
    "unknown-user": (
        lambda: jwt.encode(_claims(sub="ghost"), SECRET, "HS256"),
        "invalid token: unknown or disabled user",
    ),
    "junk": (lambda: "not.a.jwt", "invalid token"),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_bad_jwts_are_401(sqlite_api: ApiServer, case: str) -> None:
    mint, detail = BAD_TOKENS[case]
    r = sqlite_api.client.get("/api/v1/hosts", headers=_bearer(mint()))
    assert r.status_code == 401
    assert r.json()["detail"] == detail


def test_alg_none_is_rejected(sqlite_api: ApiServer) -> None:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    import json

    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps(_claims()).encode())
    r = sqlite_api.client.get("/api/v1/hosts", headers=_bearer(f"{header}.{payload}."))
    assert r.status_code == 401


def test_login_wrong_password_is_401(sqlite_api: ApiServer) -> None:
    r = sqlite_api.client.post(
        "/api/v1/auth/token", data={"username": "admin", "password": "wrong-password"}
    )
    assert r.status_code == 401
    assert r.json()["detail"] == "incorrect username or password"


def test_me(sqlite_api: ApiServer) -> None:
    r = sqlite_api.client.get("/api/v1/auth/me", headers=sqlite_api.auth("viewer"))
    assert r.json() == {"username": "viewer", "role": "viewer"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/enroll-tokens"),
        ("get", "/api/v1/enroll-tokens"),
        ("delete", "/api/v1/enroll-tokens/1"),
        ("delete", "/api/v1/hosts/some-host"),
        ("post", "/api/v1/hosts/some-host/keys/rotate"),
        ("post", "/api/v1/hosts/some-host/keys/revoke"),
    ],
)
def test_viewer_cannot_call_admin_endpoints(sqlite_api: ApiServer, method: str, path: str) -> None:
    kwargs: dict[str, object] = {"headers": sqlite_api.auth("viewer")}
    if method == "post" and path.endswith("tokens"):
        kwargs["json"] = {}
    r = getattr(sqlite_api.client, method)(path, **kwargs)
    assert r.status_code == 403
    assert r.json()["detail"] == "admin role required"


@pytest.mark.parametrize(
    "path",
    ["/api/v1/hosts", "/api/v1/metrics/current?host=x", "/api/v1/metrics/overview"],
)
def test_reads_need_a_person(sqlite_api: ApiServer, path: str) -> None:
    assert sqlite_api.client.get(path).status_code == 401
