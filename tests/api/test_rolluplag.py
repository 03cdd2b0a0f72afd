"""Rollup lag: seconds of data not yet rolled up per tier, and when a tier counts as lagging."""

from __future__ import annotations

from fleetmon_api.rolluplag import GRACE_S, RollupLag
from fleetmon_db.timeseries import DEFAULT_TIERS, NS
from tests.support.clock import FakeClock


def test_lag_per_tier_and_status() -> None:
    clock = FakeClock()
    lag = RollupLag(DEFAULT_TIERS, clock.seconds)
    assert lag.detail()["status"] == "unknown"
    now = clock.now_ns
    lag.update({"5m": now - 200 * NS, "1h": now - 3000 * NS, "1d": now - 80_000 * NS})
    lag.ran(True)
    assert lag.lag_s("5m") == 200
    detail = lag.detail()
    assert detail["status"] == "ok"
    assert detail["tiers"]["1h"] == {"lag_s": 3000.0, "within_bound": True}
    # The 5m tier falls behind by more than one window plus the grace.
    clock.advance(300 + GRACE_S)
    detail = lag.detail()
    assert detail["status"] == "lagging"
    assert detail["tiers"]["5m"]["within_bound"] is False
    lag.ran(False, "StoreUnavailable: read timeout")
    assert lag.detail()["status"] == "error"
    assert lag.detail()["last_run"]["error"] == "StoreUnavailable: read timeout"
