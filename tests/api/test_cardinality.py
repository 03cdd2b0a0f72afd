"""Per-host cardinality budgets (issue 15.4): random tag values, measurement or field names
from one key are refused past the host's budget, other hosts keep writing, and the
tracking stays bounded whatever one host sends."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetmon_api.ingest.cardinality import (
    Cardinality,
    CardinalityExceeded,
    CardinalityLimits,
)
from fleetmon_api.settings import Settings
from fleetmon_db.timeseries import Point, PointBatch
from tests.api.harness import ApiServer, now_s, running_api
from tests.support.agent import agent_once_batch
from tests.support.clock import FakeClock


def _batch(*series: tuple[str, dict[str, str]], fields: tuple[str, ...] = ("v",)) -> PointBatch:
    return PointBatch.of([Point("h", m, 0, tags, {f: 1.0 for f in fields}) for m, tags in series])


def test_series_past_the_budget_are_refused_until_old_ones_leave_the_window() -> None:
    clock = FakeClock()
    card = Cardinality(CardinalityLimits(3, 10, 10, window_s=60), clock.seconds)
    steady = [("cpu", {"cpu": "cpu0"}), ("cpu", {"cpu": "cpu1"}), ("disk", {"a": "1", "b": "2"})]
    card.check(1, _batch(*steady))
    with pytest.raises(CardinalityExceeded) as exc:
        card.check(1, _batch(("cpu", {"cpu": "cpu2"})))
    assert exc.value.status == 422
    assert "4 series, more than its limit of 3" in str(exc.value.detail)
    assert "'cpu,cpu=cpu2'" in str(exc.value.detail)
    assert "FLEETMON_MAX_SERIES_PER_HOST" in str(exc.value.detail)
    # The same series with its tags in another order is not a new one; other hosts have
    # budgets of their own.
    card.check(1, _batch(("disk", {"b": "2", "a": "1"})))
    card.check(2, _batch(("cpu", {"cpu": "cpu2"}), *steady[:2]))
    # One window later the host's series are still counted (it sent them recently)...
    clock.advance(61)
    with pytest.raises(CardinalityExceeded):
        card.check(1, _batch(("cpu", {"cpu": "cpu2"})))
    # ...but two series it stopped sending leave the count after one more window.
    card.check(1, _batch(steady[0]))
    clock.advance(61)
    card.check(1, _batch(steady[0], ("cpu", {"cpu": "cpu2"}), ("cpu", {"cpu": "cpu3"})))
    # A host idle for two windows starts afresh.
    clock.advance(200)
    card.check(1, _batch(("x", {}), ("y", {}), ("z", {})))


def test_measurement_and_field_budgets() -> None:
    card = Cardinality(CardinalityLimits(1000, 2, 5, window_s=60), FakeClock().seconds)
    card.check(1, _batch(("a", {}), ("b", {}), fields=("f1", "f2")))
    with pytest.raises(CardinalityExceeded, match=r"3 measurements, more than its limit of 2"):
        card.check(1, _batch(("c", {})))
    card.check(1, _batch(("a", {"t": "1"}), fields=("f1",)))
    with pytest.raises(CardinalityExceeded, match=r"FLEETMON_MAX_FIELDS_PER_HOST"):
        card.check(1, _batch(("a", {}), fields=("f3", "f4")))


def test_tracking_stays_bounded_under_a_flood_of_new_series() -> None:
    limit = 100
    card = Cardinality(CardinalityLimits(limit, 10, 10, window_s=60), FakeClock().seconds)
    for i in range(50):
        batch = _batch(*[("m", {"id": f"{i}-{j}"}) for j in range(30)])
        with contextlib.suppress(CardinalityExceeded):
            card.check(1, batch)
        # Tag orders and field subsets of one accepted series are not new series either.
        card.check(1, _batch(("m", {"id": "0-0"}), fields=(f"v{i % 3}",)))
    h = card._hosts[1]
    assert len(h.series) <= limit
    assert len(h.series.current) + len(h.series.previous) <= limit
    assert len(h.shapes) <= 4 * limit + 30


@pytest.fixture(scope="module")
def agent_points() -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = agent_once_batch()["points"]
    return points


def test_a_big_server_fits_the_default_budgets(agent_points: list[dict[str, Any]]) -> None:
    """The real agent's batch on this machine, scaled to a big server: each of its cpu,
    disk, diskio and net points copied 129, 64, 64 and 64 times (about 1,000 series), and
    procstat's top 100 + 100 processes of which 20 are new on every run (every 15 s), for
    three windows: every batch is accepted, the count peaks near 10,600."""
    s = Settings(secret_key="x" * 32)
    clock = FakeClock()
    card = Cardinality(
        CardinalityLimits(
            s.max_series_per_host,
            s.max_measurements_per_host,
            s.max_fields_per_host,
            s.cardinality_window_s,
        ),
        clock.seconds,
    )
    copies = {"cpu": 129, "disk": 64, "diskio": 64, "net": 64}
    steady: list[Point] = []
    procstat: list[dict[str, Any]] = []
    for p in agent_points:
        if p["measurement"] == "procstat":
            procstat.append(p)
            continue
        n = copies.get(p["measurement"], 1)
        for i in range(n):
            tags = {k: f"{v}-{i}" for k, v in p["tags"].items()} if n > 1 else p["tags"]
            steady.append(Point("h", p["measurement"], 0, tags, p["fields"]))
    assert procstat, "the agent sends procstat points"

    def process(i: int, pid: str) -> Point:
        p = procstat[i % len(procstat)]
        return Point("h", "procstat", 0, {**p["tags"], "pid": pid}, p["fields"])

    long_lived = [process(i, f"l{i}") for i in range(180)]
    most = 0
    for run in range(int(3 * s.cardinality_window_s / 15)):
        churn = [process(i, f"{run}-{i}") for i in range(20)]
        # The other collectors' series every 5 minutes is enough to keep them counted.
        card.check(1, PointBatch.of((steady if run % 20 == 0 else []) + long_lived + churn))
        most = max(most, len(card._hosts[1].series))
        clock.advance(15)
    assert 5_000 < most < s.max_series_per_host


def test_default_budgets_hold_an_hour_of_busy_procstat(agent_points: list[dict[str, Any]]) -> None:
    """Default top 5 + 5 processes, all new on every run for two windows, stay under the
    series budget with room to spare."""
    s = Settings(secret_key="x" * 32)
    clock = FakeClock()
    card = Cardinality(
        CardinalityLimits(s.max_series_per_host, 500, 10_000, s.cardinality_window_s),
        clock.seconds,
    )
    runs = int(2 * s.cardinality_window_s / 15)
    for run in range(runs):
        clock.advance(14.9)
        card.check(1, PointBatch.of([
            Point("h", "procstat", 0, {"process_name": "cc1", "pid": f"{run}-{i}", "user": "ci"},
                  {"cpu_usage": 1.0})
            for i in range(10)
        ]))  # fmt: skip
    assert len(card._hosts[1].series) == 10 * runs < s.max_series_per_host


# ---- through the API --------------------------------------------------------------------

LIMITS: dict[str, Any] = {
    "max_series_per_host": 20,
    "max_measurements_per_host": 5,
    "max_fields_per_host": 30,
}


@pytest.fixture(scope="module")
def small_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    tmp: Path = tmp_path_factory.mktemp("cardinality")
    with running_api(
        f"sqlite:///{tmp / 'meta.db'}",
        f"sqlite:///{tmp / 'ts.db'}",
        ingest_rate_limit="100000/minute",
        **LIMITS,
    ) as server:
        yield server


def _write(api: ApiServer, key: str, lines: list[str]) -> Any:
    t = int(now_s())
    body = "".join(f"{line} {t}\n" for line in lines)
    headers = {"Authorization": f"Token {key}"}
    return api.client.post("/write", params={"precision": "s"}, content=body, headers=headers)


def test_random_tag_values_from_one_key_stop_at_its_budget(small_api: ApiServer) -> None:
    api = small_api
    attacker, neighbour = api.enroll("card-attacker"), api.enroll("card-neighbour")
    flood = [f"req,id={uuid.uuid4().hex} v=1" for _ in range(25)]
    r = _write(api, attacker, flood)
    assert r.status_code == 422, r.text
    assert "25 series, more than its limit of 20" in r.json()["detail"]
    assert "FLEETMON_MAX_SERIES_PER_HOST" in r.json()["detail"]
    assert api.state.store.series("card-attacker") == []  # nothing of a refused batch
    assert _write(api, attacker, flood[:20]).status_code == 204
    r = _write(api, attacker, [f"req,id={uuid.uuid4().hex} v=1"])
    assert r.status_code == 422, r.text
    assert _write(api, attacker, flood[:20]).status_code == 204  # what it has keeps flowing
    assert _write(api, neighbour, flood).status_code == 422  # its own budget: 25 > 20
    assert _write(api, neighbour, flood[5:]).status_code == 204
    r = _write(api, attacker, [f"m{i} v=1" for i in range(3)])  # measurements: 1 + 3 <= 5
    assert r.status_code == 422  # ...but series: 20 + 3 > 20
    metrics = api.client.get("/metrics").text
    assert 'fleetmon_ingest_rejects_total{reason="cardinality"} 4.0' in metrics


def test_random_measurement_and_field_names_stop_at_their_budgets(small_api: ApiServer) -> None:
    api = small_api
    key = api.enroll("card-names")
    r = _write(api, key, [f"m_{uuid.uuid4().hex[:8]} v=1" for _ in range(6)])
    assert r.status_code == 422, r.text
    assert "6 measurements, more than its limit of 5" in r.json()["detail"]
    fields = ",".join(f"f_{uuid.uuid4().hex[:8]}=1" for _ in range(31))
    r = _write(api, key, [f"wide {fields}"])
    assert r.status_code == 422, r.text
    assert "31 fields, more than its limit of 30" in r.json()["detail"]
    assert "FLEETMON_MAX_FIELDS_PER_HOST" in r.json()["detail"]
