"""Rate limits per host key (ingest) and per client IP (enroll, login, failed host-key
authentication): memory and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import event

from tests.api.harness import ApiServer, batch, running_api


@pytest.fixture(params=["memory", "redis"])
def limited_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ApiServer]:
    storage = "memory://"
    if request.param == "redis":
        storage = request.getfixturevalue("redis_url")
    with running_api(
        f"sqlite:///{tmp_path / 'meta.db'}",
        f"sqlite:///{tmp_path / 'metrics.db'}",
        rate_limit_storage_url=storage,
        ingest_rate_limit="3/minute",
        enroll_rate_limit="4/minute",
        login_rate_limit="3/minute",
        auth_failure_rate_limit="3/minute",
    ) as api:
        yield api


def test_ingest_limit_is_per_key_with_retry_after(limited_api: ApiServer) -> None:
    # Enrolling uses the admin token (1 login) and 2 enrollments: within both limits.
    key_a = limited_api.enroll("rl-a")
    key_b = limited_api.enroll("rl-b")

    def post(key: str) -> httpx.Response:
        return limited_api.client.post(
            "/api/v1/metrics/collect", json=batch(1), headers={"Authorization": f"Bearer {key}"}
        )

    for _ in range(3):
        assert post(key_a).status_code == 202
    r = post(key_a)
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert r.json()["detail"].startswith("rate limit exceeded: 3/minute; retry after")
    # Another host's key has its own budget.
    assert post(key_b).status_code == 202
    metrics = limited_api.client.get("/metrics").text
    assert 'fleetmon_rate_limited_total{scope="/api/v1/metrics/collect"}' in metrics


def test_login_and_enroll_limited_per_ip(limited_api: ApiServer) -> None:
    codes = [
        limited_api.client.post(
            "/api/v1/auth/token", data={"username": "admin", "password": "wrong-password"}
        ).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    codes = [
        limited_api.client.post(
            "/api/v1/hosts/enroll", json={"token": "fme_x", "name": f"h{i}"}
        ).status_code
        for i in range(5)
    ]
    assert codes == [401, 401, 401, 401, 429]


def test_failed_key_authentication_is_limited_per_client_without_lookups(
    limited_api: ApiServer,
) -> None:
    """Random keys (issue 15.6): each used to get its own ingest counter and a database
    lookup. Now they count as failures of the client address; over the limit the address
    gets 429 with Retry-After and no lookup, while a key already verified keeps working."""
    good = limited_api.enroll("af-good")
    collect = "/api/v1/metrics/collect"

    def post(key: str) -> httpx.Response:
        return limited_api.client.post(
            collect, json=batch(1), headers={"Authorization": f"Bearer {key}"}
        )

    assert post(good).status_code == 202  # verified once: now in the key cache
    lookups: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "host_keys" in statement:
            lookups.append(statement)

    engine = limited_api.state.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        random_keys = [f"fm_{uuid.uuid4().hex}{uuid.uuid4().hex}" for _ in range(6)]
        codes = [post(k).status_code for k in random_keys[:4]]
        assert codes == [401, 401, 401, 429]
        assert len(lookups) == 4  # the fourth was looked up, then counted over the limit
        for k in random_keys[4:]:
            r = post(k)
            assert r.status_code == 429
            assert 1 <= int(r.headers["retry-after"]) <= 60
            assert r.json()["detail"].startswith("rate limit exceeded: 3/minute")
        assert len(lookups) == 4  # refused before the database
        no_key = limited_api.client.post(collect, json=batch(1))
        assert no_key.status_code == 429
        # A successful authentication is not slowed or refused: the cached key still writes.
        assert post(good).status_code == 202
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # No ingest counter was created for any random key (only for the good one).
    limiter = limited_api.state.limiter
    if limiter.local:
        counters = [str(k) for k in limiter.limiter.limiter.storage._counts]
    else:
        client = redis.Redis.from_url(limited_api.settings.rate_limit_storage_url)
        try:
            prefix = limited_api.settings.rate_limit_key_prefix
            counters = [k.decode() for k in client.scan_iter(match=f"*{prefix}*")]
        finally:
            client.close()
    assert len([k for k in counters if "ingest" in k]) == 1, counters


def test_redis_counters_use_the_configured_prefix(redis_url: str, tmp_path: Path) -> None:
    prefix = f"fmtest-{uuid.uuid4().hex[:8]}"
    with running_api(
        f"sqlite:///{tmp_path / 'meta.db'}",
        f"sqlite:///{tmp_path / 'metrics.db'}",
        rate_limit_storage_url=redis_url,
        rate_limit_key_prefix=prefix,
        redis_url=redis_url,
    ) as api:
        key = api.enroll()
        b = batch(2)
        auth = {"Authorization": f"Bearer {key}"}
        assert api.client.post("/api/v1/metrics/collect", json=b, headers=auth).status_code == 202
        client = redis.Redis.from_url(redis_url)
        try:
            keys = [k.decode() for k in client.scan_iter(match=f"*{prefix}*")]
            assert any("ingest" in k for k in keys), keys
            assert any(k.endswith(b["batch_id"]) for k in keys), keys  # idempotency ledger
            # A second worker (fresh memory) still sees the batch as done via Redis.
            api.state.ledger._local.clear()
            again = api.client.post("/api/v1/metrics/collect", json=b, headers=auth)
            assert again.json()["duplicate"] is True
        finally:
            for k in client.scan_iter(match=f"*{prefix}*"):
                client.delete(k)
            client.close()
