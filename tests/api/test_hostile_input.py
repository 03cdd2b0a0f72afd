"""Smaller attacks from issue 15.6 against a running API: names with a trailing newline,
labels an agent picks for itself."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session

from fleetmon_api import services
from fleetmon_api.errors import ApiError
from fleetmon_db.metric import split_metric
from fleetmon_db.models import Role
from tests.api.harness import ApiServer, batch

ENROLL = "/api/v1/hosts/enroll"


def _token(api: ApiServer, **body: object) -> str:
    r = api.client.post("/api/v1/enroll-tokens", json=body, headers=api.auth())
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def test_a_name_with_a_trailing_newline_does_not_enroll(sqlite_api: ApiServer) -> None:
    # `^...$` with re.match accepts "web-1\n": a name that looks like web-1 and ends a
    # mail Subject header.
    token = _token(sqlite_api, max_uses=3)
    for name in ("web-1\n", "web-1\r\n", "web-1\nx"):
        r = sqlite_api.client.post(ENROLL, json={"token": token, "name": name})
        assert r.status_code == 422, (name, r.text)
        assert "host name" in r.json()["detail"]


def test_a_measurement_with_a_trailing_newline_is_refused(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll()
    body = batch(1)
    body["points"][0]["measurement"] = "cpu\n"
    r = sqlite_api.client.post(
        "/api/v1/metrics/collect", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 422, r.text
    assert "measurement" in r.json()["detail"]


def test_wire_patterns_refuse_a_trailing_newline(sqlite_api: ApiServer) -> None:
    """The wire models' `^...$` patterns (pydantic, published in OpenAPI) and `\\Z` ones
    (msgspec fast path) both refuse a batch id ending in a newline."""
    key = sqlite_api.enroll()
    body = batch(1, batch_id="b-1\n")
    r = sqlite_api.client.post(
        "/api/v1/metrics/collect", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 422, r.text
    assert "batch_id" in r.text


def test_username_and_metric_names_refuse_a_trailing_newline(sqlite_api: ApiServer) -> None:
    with sqlite_api.state.sessions() as db:
        assert isinstance(db, Session)
        with pytest.raises(ApiError) as err:
            services.create_user(db, "bob\n", "long-enough-pw", Role.VIEWER)
    assert err.value.status == 422
    with pytest.raises(ValueError, match="must be"):
        split_metric("cpu.usage_user\n")


def test_enrollment_token_labels_win_over_the_agents(sqlite_api: ApiServer) -> None:
    token = _token(sqlite_api, labels={"env": "staging", "team": "web"})
    name = f"lbl-{uuid.uuid4().hex[:6]}"
    r = sqlite_api.client.post(
        ENROLL,
        json={"token": token, "name": name, "labels": {"env": "prod", "role": "db"}},
    )
    assert r.status_code == 201, r.text
    host = sqlite_api.client.get(f"/api/v1/hosts/{name}", headers=sqlite_api.auth()).json()
    assert host["labels"] == {"env": "staging", "team": "web", "role": "db"}
