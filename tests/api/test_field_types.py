"""Field types are a contract: no host can make another host's writes fail by sending a
field with another type (issue 15.3), and the metadata database decides a new field's type
once, whichever process learns it first."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from fleetmon_api.errors import ApiError
from fleetmon_api.ingest.fieldtypes import FieldTypeConflict, FieldTypes
from fleetmon_db import migrate
from fleetmon_db.db import make_engine
from fleetmon_db.timeseries import Point, PointBatch
from tests.api.harness import ApiServer, batch, now_s, running_api
from tests.support.servers import throwaway_pg_database
from tests.support.stores import store_spec

COLLECT = "/api/v1/metrics/collect"


@pytest.fixture(scope="module")
def fresh_influx_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """An API on an InfluxDB database of its own: no shard has a cpu field typed yet, as
    after the hour turns (where the attack worked: the first value types the shard)."""
    tmp = tmp_path_factory.mktemp("field-types")
    with (
        store_spec("influxdb", request, tmp, url_only=True) as spec,
        running_api(f"sqlite:///{tmp / 'meta.db'}", spec.url) as server,
    ):
        yield server


def _collect(api: ApiServer, key: str, points: list[dict[str, Any]]) -> Any:
    body = {"batch_id": str(uuid.uuid4()), "points": points}
    return api.client.post(COLLECT, json=body, headers={"Authorization": f"Bearer {key}"})


def _write(api: ApiServer, key: str, lines: str) -> Any:
    headers = {"Authorization": f"Token {key}"}
    return api.client.post("/write", params={"precision": "s"}, content=lines, headers=headers)


def _values(api: ApiServer, host: str, metric: str) -> list[Any]:
    r = api.client.get(
        "/api/v1/metrics/history",
        params={"host": host, "metric": metric, "start": str(now_s() - 600), "raw": "true"},
        headers=api.auth(),
    )
    assert r.status_code == 200, r.text
    return [p[1] for s in r.json()["series"] for p in s["points"] if p[1] is not None]


def test_a_string_in_an_agent_field_is_refused_and_other_hosts_keep_writing(
    fresh_influx_api: ApiServer,
) -> None:
    api = fresh_influx_api
    attacker, victim = api.enroll("ft-attacker"), api.enroll("ft-victim")
    t = now_s()
    poison = {"measurement": "cpu", "time": t, "tags": {"cpu": "cpu-total"},
              "fields": {"usage_active": "pwned"}}  # fmt: skip
    r = _collect(api, attacker, [poison])
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    for part in ("points[0]", "'usage_active'", "'cpu'", "string", "float"):
        assert part in detail
    # The same through line protocol (Telegraf's way of sending it).
    r = _write(api, attacker, f'cpu,cpu=cpu-total usage_active="pwned" {int(t)}\n')
    assert r.status_code == 422, r.text
    assert "point 1 of the request" in r.json()["detail"]
    # The victim's floats (and an integer JSON number, stored as the float it means) land.
    good = {"measurement": "cpu", "time": t, "tags": {"cpu": "cpu-total"},
            "fields": {"usage_active": 12.5, "usage_user": 7}}  # fmt: skip
    r = _collect(api, victim, [good])
    assert r.status_code == 202, r.text
    assert _values(api, "ft-victim", "cpu.usage_active") == [12.5]
    assert _values(api, "ft-victim", "cpu.usage_user") == [7.0]
    assert api.state.store.series("ft-attacker") == []
    metrics = api.client.get("/metrics").text
    assert 'fleetmon_ingest_rejects_total{reason="field_type"} 2.0' in metrics


def test_a_new_field_takes_the_type_of_its_first_write(fresh_influx_api: ApiServer) -> None:
    api = fresh_influx_api
    first, second = api.enroll("ft-first"), api.enroll("ft-second")
    t = int(now_s())
    assert _write(api, first, f"app,svc=web latency=1.5,requests=3i {t}\n").status_code == 204
    r = _write(api, second, f'app,svc=api latency="slow" {t}\n')
    assert r.status_code == 422, r.text
    assert "'latency' of measurement 'app' was sent as string" in r.json()["detail"]
    assert "is a float field" in r.json()["detail"]
    r = _write(api, second, f"app,svc=api requests=2.5 {t}\n")  # a fraction in an integer field
    assert r.status_code == 422, r.text
    assert "sent as float, but app.requests is a integer field" in r.json()["detail"]
    assert _write(api, second, f"app,svc=api latency=2,requests=4i {t}\n").status_code == 204
    assert _values(api, "ft-second", "app.latency") == [2.0]
    # A whole float in an integer field is that integer (Glances writes sizes as floats).
    assert _write(api, second, f"app,svc=api requests=5 {t - 300}\n").status_code == 204
    assert _values(api, "ft-second", "app.requests") == [5, 4]  # both kept
    # A float of an agent batch is never refused as an integer: one point of a batch
    # with a whole number and another with a fraction makes a new field float.
    r = _collect(api, second, [
        {"measurement": "jsonapp", "time": t, "fields": {"x": 1}},
        {"measurement": "jsonapp", "time": t + 1, "fields": {"x": 1.5}},
    ])  # fmt: skip
    assert r.status_code == 202, r.text


def test_the_metadata_database_decides_a_race_between_processes() -> None:
    with throwaway_pg_database("fleetmon_ft") as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        try:
            # Eight processes' views of the contract (each with its own cache), each
            # learning a new field from a different first value at the same moment.
            views = [FieldTypes(engine) for _ in range(8)]
            values: list[Any] = [1.5, "text", 3, True] * 2
            outcomes: list[str] = [""] * len(views)
            start = threading.Barrier(len(views))

            def learn(i: int) -> None:
                import asyncio

                p = Point("h", "race", 0, {}, {"f": values[i]})
                start.wait()
                try:
                    asyncio.run(views[i].check(PointBatch.of([p])))
                    outcomes[i] = type(values[i]).__name__
                except FieldTypeConflict as exc:
                    outcomes[i] = f"refused: {exc}"

            threads = [threading.Thread(target=learn, args=(i,)) for i in range(len(views))]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT type FROM field_types")).all()
            assert len(rows) == 1
            winner = {"float": "float", "string": "str", "integer": "int", "boolean": "bool"}[
                rows[0][0]
            ]
            accepted = {o for o in outcomes if not o.startswith("refused")}
            # Only the winner's type was accepted (an integer also passes a float field).
            assert accepted <= ({winner, "int"} if winner == "float" else {winner}), outcomes
            refused = [o for o in outcomes if o not in accepted]
            assert all("field 'f' of measurement 'race'" in o for o in refused), outcomes
        finally:
            engine.dispose()


def test_sqlite_metadata_keeps_learnt_types_across_restarts(tmp_path: Path) -> None:
    meta, store = f"sqlite:///{tmp_path / 'meta.db'}", f"sqlite:///{tmp_path / 'ts.db'}"
    with running_api(meta, store) as api:
        key = api.enroll("ft-restart")
        assert _write(api, key, f"svc up=true {int(now_s())}\n").status_code == 204
    with running_api(meta, store, migrate_users=False) as api:
        r = _write(api, key, f"svc up=1i {int(now_s())}\n")
        assert r.status_code == 422, r.text
        assert "svc.up is a boolean field" in r.json()["detail"]
        assert _collect(api, key, batch(2)["points"]).status_code == 202


def test_a_new_field_while_the_metadata_database_is_down_is_retryable(tmp_path: Path) -> None:
    import asyncio

    engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'meta.db'}")
    try:
        types = FieldTypes(engine, retry_after_s=7)
        declared = PointBatch.of([Point("h", "cpu", 0, {}, {"usage_idle": 1.0})])
        asyncio.run(types.check(declared))  # the agent's fields need no database
        new = PointBatch.of([Point("h", "newthing", 0, {}, {"f": 1.0})])
        with pytest.raises(ApiError) as exc:
            asyncio.run(types.check(new))
        assert exc.value.status == 503
        assert exc.value.headers == {"Retry-After": "7"}
    finally:
        engine.dispose()
