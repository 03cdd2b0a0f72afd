"""The InfluxDB HTTP API surface clients touch before writing: /ping, /query, /health.

Shapes from InfluxDB 1.8's services/httpd/handler.go (ping, query results, `{"error": ...}`)
and 2.x's http/health.go; the statements are those influxdb-python (Glances), Telegraf's
InfluxDB output and Grafana's datasource check send.
"""

from __future__ import annotations

import httpx
import pytest

from tests.api.harness import ApiServer


def test_ping_get_and_head_answer_204_with_version_headers(sqlite_api: ApiServer) -> None:
    for method in ("GET", "HEAD"):
        r = sqlite_api.client.request(method, "/ping")
        assert r.status_code == 204, (method, r.text)
        assert r.headers["X-Influxdb-Version"] == "1.8.10"
        assert r.headers["X-Influxdb-Build"] == "fleetmon"
        assert r.content == b""
    r = sqlite_api.client.get("/ping", params={"verbose": "true"})
    assert (r.status_code, r.json()) == (200, {"version": "1.8.10"})
    assert sqlite_api.client.get("/ping", params={"verbose": "false"}).status_code == 204


def test_show_databases_with_every_credential_form(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll()
    c = sqlite_api.client
    series = {"name": "databases", "columns": ["name"], "values": [["fleetmon"], ["glances"]]}
    expected = {"results": [{"statement_id": 0, "series": [series]}]}
    q = {"q": "SHOW DATABASES", "db": "glances"}
    assert c.get("/query", params=q, auth=("glances", key)).json() == expected
    assert c.get("/query", params={**q, "u": "x", "p": key}).json() == expected
    r = c.get("/query", params=q, headers={"Authorization": f"Token {key}"})
    assert r.status_code == 200
    assert r.json() == expected
    r = c.get("/query", params={"q": "show databases"}, headers={"Authorization": f"Token {key}"})
    assert r.json()["results"][0]["series"][0]["values"] == [["fleetmon"]]


def test_query_refuses_a_bad_key_in_influxdb_shape(sqlite_api: ApiServer) -> None:
    r = sqlite_api.client.get("/query", params={"q": "SHOW DATABASES"}, auth=("u", "fm_nope"))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid host API key"
    r = sqlite_api.client.get("/query", params={"q": "SHOW DATABASES"})
    assert r.status_code == 401
    assert "missing host API key" in r.json()["error"]


def test_create_database_as_telegraf_posts_it(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll()
    # Telegraf's outputs.influxdb: POST /query with the statement in a form body.
    r = sqlite_api.client.post(
        "/query",
        content=b"q=CREATE+DATABASE+%22telegraf%22",
        headers={
            "Authorization": f"Token {key}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"results": [{"statement_id": 0}]}
    # influxdb-python's create_database: q in the URL.
    r = sqlite_api.client.post(
        "/query", params={"q": 'CREATE DATABASE "my db" WITH DURATION 7d'}, auth=("u", key)
    )
    assert r.json() == {"results": [{"statement_id": 0}]}


def test_show_retention_policies_and_multiple_statements(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll()
    auth = ("u", key)
    r = sqlite_api.client.get(
        "/query", params={"q": 'SHOW RETENTION POLICIES ON "a;b"; SHOW DATABASES'}, auth=auth
    )
    assert r.status_code == 200, r.text
    first, second = r.json()["results"]
    assert first == {
        "statement_id": 0,
        "series": [
            {
                "columns": ["name", "duration", "shardGroupDuration", "replicaN", "default"],
                "values": [["autogen", "0s", "168h0m0s", 1, True]],
            }
        ],
    }
    assert second["statement_id"] == 1
    r = sqlite_api.client.get("/query", params={"q": "SHOW RETENTION POLICIES"}, auth=auth)
    assert r.status_code == 400
    assert r.json()["error"] == "database name required"


def test_show_measurements_lists_only_the_asking_hosts(api: ApiServer) -> None:
    mine, other = api.enroll(), api.enroll()
    q = {"q": "SHOW MEASUREMENTS", "db": "telegraf"}
    r = api.client.get("/query", params=q, auth=("u", mine))
    assert r.json() == {"results": [{"statement_id": 0}]}
    for key, body in ((mine, "cpu f=1\nmy\\ disk f=2\n"), (other, "secret_app f=1\n")):
        assert api.client.post("/write", content=body, auth=("u", key)).status_code == 204
    r = api.client.get("/query", params=q, auth=("u", mine))
    series = {"name": "measurements", "columns": ["name"], "values": [["cpu"], ["my disk"]]}
    assert r.json() == {"results": [{"statement_id": 0, "series": [series]}]}


def test_other_statements_are_400_naming_what_is_answered(sqlite_api: ApiServer) -> None:
    key = sqlite_api.enroll()
    for q in ("SELECT * FROM cpu", "DROP DATABASE telegraf", "", "SHOW DATABASES x",
              "SHOW MEASUREMENTS LIMIT 1"):  # fmt: skip
        r = sqlite_api.client.get("/query", params={"q": q}, auth=("u", key))
        assert r.status_code == 400, q
        body = r.json()
        assert body["error"] == body["detail"]
        if q:
            assert "fleetmon answers only SHOW DATABASES" in body["error"], q
    r = sqlite_api.client.get("/query", auth=("u", key))
    assert r.status_code == 400
    assert r.json()["error"] == 'missing required parameter "q"'


def test_health_answers_influxdb_clients_in_their_shape(sqlite_api: ApiServer) -> None:
    own = sqlite_api.client.get("/health")
    assert own.status_code == 200
    # fleetmon's own shape: the status for anyone (each check only for people signed in).
    assert own.json() == {"status": "ok"}
    for headers in (
        {"User-Agent": "influxdb-client-python/1.50.0"},
        {"Authorization": "Token anything"},
    ):
        r = sqlite_api.client.get("/health", headers=headers)
        assert r.status_code == 200
        assert r.json() == {
            "name": "influxdb",
            "message": "ready for queries and writes",
            "status": "pass",
            "checks": [],
            "version": "1.8.10",
            "commit": "fleetmon",
        }


def test_influxdb_python_lists_and_creates_databases(sqlite_api: ApiServer) -> None:
    from influxdb import InfluxDBClient  # type: ignore[import-untyped]

    key = sqlite_api.enroll()
    url = httpx.URL(sqlite_api.url)
    client = InfluxDBClient(
        host=url.host, port=url.port, username="glances", password=key, database="glances"
    )
    try:
        assert {"name": "glances"} in client.get_list_database()
        client.create_database("telegraf")
        assert client.ping() == "1.8.10"
    finally:
        client.close()


def test_influxdb_client_health_and_ping(sqlite_api: ApiServer) -> None:
    from influxdb_client.client.influxdb_client import InfluxDBClient

    key = sqlite_api.enroll()
    with InfluxDBClient(url=sqlite_api.url, token=key, org="o") as client:
        assert client.ping() is True
        assert client.version() == "1.8.10"
        # Deprecated by the client, still what Glances' influxdb2 export calls at start.
        with pytest.warns(DeprecationWarning, match=r"Call 'ping\(\)' instead"):
            health = client.health()
        assert (health.status, health.message) == ("pass", "ready for queries and writes")
