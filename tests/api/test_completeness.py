"""Completeness per host against every store: the share of expected samples present, the
gaps, and the stretches filled late from the agent's spool."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from fleetmon_db.models import Host
from tests.api.harness import ApiServer, now_s


def _points(minute_start: float) -> list[dict[str, Any]]:
    """One minute of the reference series, every 10 s."""
    return [
        {
            "measurement": "cpu",
            "time": minute_start + s,
            "tags": {"cpu": "cpu-total"},
            "fields": {"usage_user": 1.0, "usage_idle": 98.0},
        }
        for s in range(0, 60, 10)
    ]


def test_completeness_gaps_and_late_fills(api: ApiServer) -> None:
    name = f"complete-{uuid.uuid4().hex[:6]}"
    headers = {"Authorization": f"Bearer {api.enroll(name)}"}
    t0 = (int(now_s()) // 60 - 31) * 60  # 31 minutes ago, on a minute
    state = api.state
    real_clock = state.clock

    def post(points: list[dict[str, Any]], at: float) -> None:
        state.clock = lambda: datetime.fromtimestamp(at, UTC)
        body = {"batch_id": str(uuid.uuid4()), "points": points}
        r = api.client.post("/api/v1/metrics/collect", json=body, headers=headers)
        assert r.status_code == 202, r.text

    try:
        for m in range(30):
            if 10 <= m < 16:
                continue  # the agent could not deliver; it spools
            post(_points(t0 + m * 60), t0 + m * 60 + 55)  # on time
            if m == 16:
                # Back: it replays what it spooled of minutes 10-12 (the rest it lost).
                post([p for k in (10, 11, 12) for p in _points(t0 + k * 60)], t0 + m * 60 + 58)
        state.clock = lambda: datetime.fromtimestamp(t0 + 30 * 60 + 5, UTC)
        state.presence.flush()
        with state.sessions.begin() as db:
            enrolled = datetime.fromtimestamp(t0 - 3600, UTC)
            db.execute(update(Host).where(Host.name == name).values(first_seen=enrolled))
        r = api.client.get(
            f"/api/v1/hosts/{name}/completeness", params={"range": "30m"}, headers=api.auth()
        )
        # The unflushed late windows are seen as well as the flushed ones.
        state.late.flush()
        flushed = api.client.get(
            f"/api/v1/hosts/{name}/completeness", params={"range": "30m"}, headers=api.auth()
        )
    finally:
        state.clock = real_clock
    assert r.status_code == 200, r.text
    got = r.json()
    assert flushed.json() == got
    at = lambda m: datetime.fromtimestamp(t0 + m * 60, UTC)  # noqa: E731
    assert datetime.fromisoformat(got["start"]) == at(0)
    assert datetime.fromisoformat(got["end"]) == at(30)
    assert got["reference"] == "cpu.usage_user{cpu=cpu-total}"
    assert got["interval_s"] == 10
    assert (got["expected"], got["present"], got["ratio"]) == (180, 162, 0.9)
    assert [(datetime.fromisoformat(g["start"]), g["missing"]) for g in got["gaps"]] == [
        (at(13), 18)
    ]
    assert datetime.fromisoformat(got["gaps"][0]["end"]) == at(16)
    [late] = got["filled_late"]
    assert datetime.fromisoformat(late["start"]) == at(10)
    assert datetime.fromisoformat(late["end"]) == at(12) + timedelta(seconds=50)
    assert late["points"] == 18


def test_completeness_range_is_bounded_by_raw_retention(api: ApiServer) -> None:
    name = f"complete-{uuid.uuid4().hex[:6]}"
    api.enroll(name)
    r = api.client.get(
        f"/api/v1/hosts/{name}/completeness", params={"range": "2d"}, headers=api.auth()
    )
    assert r.status_code == 422
    assert "range: at most 86400s" in r.text
    # A host that never sent anything: nothing expected yet, no ratio.
    r = api.client.get(f"/api/v1/hosts/{name}/completeness", headers=api.auth())
    assert r.status_code == 200, r.text
    assert (r.json()["expected"], r.json()["ratio"], r.json()["gaps"]) == (0, None, [])
