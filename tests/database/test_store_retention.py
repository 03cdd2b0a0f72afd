"""Store suite, retention: what expires, and when."""

from __future__ import annotations

from fleetmon_db.timeseries import Aggregate, RangeQuery, Selector, TimeSeriesStore
from tests.database.helpers import MIN, D, H, gauge, pt, write_rows
from tests.support.clock import FakeClock


def test_enforce_retention_raw(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    store.write(
        [
            pt("a", now - 2 * H + 5 * MIN, {"usage_user": 1.0}),
            pt("a", now - 10 * MIN, {"usage_user": 2.0}),
        ]
    )
    store.enforce_retention(now + 24 * H - 30 * MIN)  # raw cutoff: now - 30 min
    (s,) = store.aggregate(Selector("cpu", "usage_user"), now - 3 * H, now, Aggregate.SUM)
    # InfluxDB 2.x/3.x expire by the wall clock only: enforce_retention leaves data alone.
    assert s.value == (2.0 if store.capabilities.retention_follows_clock else 3.0)


def test_enforce_retention_tiers(store: TimeSeriesStore, clock: FakeClock) -> None:
    now = clock.now_ns
    write_rows(store, "a", gauge(now - 3 * H, now - H))
    store.rollup(now)
    later = now + 9 * D  # raw and 5m expired, 1h (30 d) kept
    store.enforce_retention(later)
    sel = Selector("cpu", "usage_user")
    if not store.capabilities.retention_follows_clock:  # the server's own clock decides
        (n,) = store.aggregate(sel, now - 4 * H, now, Aggregate.COUNT)
        assert float(n.value) > 0
        return
    assert store.aggregate(sel, now - 4 * H, now, Aggregate.COUNT) == []
    assert store.query_range(RangeQuery(sel, now - 3 * H, now, 300), now_ns=now) == []
    (d,) = store.query_range(RangeQuery(sel, now - 3 * H, now - H, 3600), now_ns=later)
    assert d.tier == "1h"
    assert all(v is not None for _, v in d.points)
