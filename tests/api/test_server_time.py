"""Every answer carries the server's clock in X-Fleetmon-Time (agents correct theirs by it)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.api.harness import ApiServer, batch, now_s


def test_every_answer_carries_the_server_time(sqlite_api: ApiServer) -> None:
    api = sqlite_api
    good = {"Authorization": f"Bearer {api.enroll()}"}
    bad = {"Authorization": "Bearer fm_nope"}
    collect = "/api/v1/metrics/collect"
    answers = [
        api.client.get("/health"),
        api.client.post(collect, json=batch(2), headers=good),
        api.client.post(collect, json={"points": []}, headers=good),
        api.client.post(collect, json=batch(1), headers=bad),
        api.client.get("/no/such/page"),
    ]
    assert [r.status_code for r in answers] == [200, 202, 422, 401, 404]
    for r in answers:
        stamp = r.headers["x-fleetmon-time"]
        assert len(stamp.split(".")[1]) == 3, stamp  # milliseconds
        assert abs(float(stamp) - now_s()) < 5


def test_the_header_reads_the_injected_clock(sqlite_api: ApiServer) -> None:
    state = sqlite_api.state
    real = state.clock
    fixed = datetime(2030, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    state.clock = lambda: fixed
    try:
        r = sqlite_api.client.get("/health")
    finally:
        state.clock = real
    assert r.headers["x-fleetmon-time"] == f"{fixed.timestamp():.3f}"
