"""Helpers of the shared store suite: points, reference computations, hostile names.

Expected values are computed here with plain loops over the data the test wrote, never
with the stores' own helpers.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Iterable, Sequence

import pytest

from fleetmon_db.timeseries import (
    NS,
    Aggregate,
    Point,
    PointBatch,
    RangeQuery,
    Selector,
    TimeSeriesStore,
)
from fleetmon_db.timeseries.tiers import DAY, HOUR

MIN = 60 * NS
H = HOUR * NS
D = DAY * NS

EVIL = [
    "it's",
    'say "hi"',
    "back\\slash",
    "trailing\\",
    "new\nline",
    "cr\rlf\r\n",
    "tab\there",
    "semi;colon; DROP TABLE ts_raw; --",
    "' OR 1=1 --",
    '" OR "',
    "x' OR host =~ /.*/ --",
    "ünïcødé Ωμέγα",
    "emoji 🚀🔥",
    "sp ace",
    "com,ma",
    "eq=ual",
    "~b64~looks-encoded",
    "/.*/",
    "a\\,b\\ c\\=d",
]


def pt(host: str, t: int, fields: dict[str, object], m: str = "cpu", **tags: str) -> Point:
    """A point; tags as keywords."""
    return Point(host, m, t, tags, fields)  # type: ignore[arg-type]


def series(
    store: TimeSeriesStore,
    host: str,
    field: str,
    start: int,
    end: int,
    step_s: int,
    agg: Aggregate,
    now: int,
    m: str = "cpu",
    **tags: str,
) -> list[tuple[int, float | None]]:
    """The single series a range query returns (asserting there is exactly one)."""
    out = store.query_range(
        RangeQuery(Selector(m, field, [host], tags), start, end, step_s, agg), now_ns=now
    )
    assert len(out) == 1, out
    return out[0].points


def expected_buckets(
    rows: Sequence[tuple[int, float]],
    start: int,
    end: int,
    step: int,
    fn: Callable[[list[tuple[int, float]]], float],
) -> list[tuple[int, float | None]]:
    """Reference bucketing: one pass per bucket over all rows, by plain comparisons."""
    out: list[tuple[int, float | None]] = []
    b = start - start % step
    while b < end:
        inside = [(t, v) for t, v in rows if b <= t < b + step and start <= t < end]
        out.append((b, fn(inside) if inside else None))
        b += step
    return out


REF: dict[Aggregate, Callable[[list[tuple[int, float]]], float]] = {
    Aggregate.MEAN: lambda r: sum(v for _, v in r) / len(r),
    Aggregate.MIN: lambda r: min(v for _, v in r),
    Aggregate.MAX: lambda r: max(v for _, v in r),
    Aggregate.SUM: lambda r: sum(v for _, v in r),
    Aggregate.COUNT: lambda r: float(len(r)),
    Aggregate.LAST: lambda r: max(r)[1],
}


def approx_points(
    got: Iterable[tuple[int, float | None]], want: Iterable[tuple[int, float | None]]
) -> None:
    got, want = list(got), list(want)
    assert [t for t, _ in got] == [t for t, _ in want]
    for (t, g), (_, w) in zip(got, want, strict=True):
        if w is None:
            assert g is None, t
        else:
            assert g == pytest.approx(w, rel=1e-9), t


def gauge(start: int, end: int, every_s: int = 10, seed: int = 1) -> list[tuple[int, float]]:
    """Pseudo-random gauge samples in [start, end)."""
    rnd = random.Random(seed)
    return [(t, round(rnd.uniform(0, 100), 3)) for t in range(start, end, every_s * NS)]


def write_rows(
    store: TimeSeriesStore,
    host: str,
    rows: Iterable[tuple[int, float]],
    field: str = "usage_user",
    **tags: str,
) -> None:
    store.write([pt(host, t, {field: v}, **tags) for t, v in rows])


def awrite(store: TimeSeriesStore, batch: PointBatch) -> int:
    """The store's async writer on an event loop of its own, closed as the API's lifespan does."""

    async def go() -> int:
        writer = store.async_writer
        try:
            return await writer.write_batch(batch)
        finally:
            await writer.aclose()

    return asyncio.run(go())


def reference_percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    f, c = math.floor(k), math.ceil(k)
    if f == c:
        return s[int(k)]
    return s[f] * (c - k) + s[c] * (k - f)


def rollup_reference(
    rows: list[tuple[int, float]], start: int, end: int, width: int, agg: Aggregate
) -> list[tuple[int, float | None]]:
    # Rollup tiers hold whole windows at their start: rows are bucketed by their window.
    return expected_buckets(rows, start, end, width, REF[agg])
