"""Summaries on InfluxDB: exact on raw data (one or two requests), estimated on rollups."""

# ruff: noqa: S608  -- every spliced value goes through quoting (influxql.py) or is an int
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fleetmon_db.timeseries.compute import percentile_ranks, summary_of_rollups
from fleetmon_db.timeseries.influx.client import InfluxClient
from fleetmon_db.timeseries.influx.influxql import (
    ident,
    integer,
    number,
    tag_conditions,
    time_range,
    where,
)
from fleetmon_db.timeseries.influx.names import encode_name
from fleetmon_db.timeseries.influx.results import rows
from fleetmon_db.timeseries.influx.rollup import ROLLUP_STATS
from fleetmon_db.timeseries.model import NS, Selector, Summary
from fleetmon_db.timeseries.stitch import Window, stitched_summary_windows
from fleetmon_db.timeseries.tiers import Tier, pick_tier

# Raw summaries read the values from p95's rank up with one top() while there are at most
# this many (5% of 24 h of 5 s data for 11 hosts); beyond, one percentile() per rank.
SUMMARY_TOP_MAX = 10_000
# Summary questions whose last count is remembered (to size a speculative top()).
SUMMARY_MEMO_MAX = 4_096


class InfluxSummaries:
    """avg/min/max exact; p95/p99 exact on raw (one or two requests), estimated on rollups."""

    def __init__(
        self,
        client: InfluxClient,
        tiers: Sequence[Tier],
        clock: Callable[[], int],
        watermarks: Callable[[], Mapping[str, int]],
    ):
        self._client = client
        # Rollup tier -> end of its rolled-up windows (stitch.py completes the rest).
        self._watermarks = watermarks
        self._tiers = tuple(tiers)
        self._clock = clock
        self._counts: dict[tuple[Any, ...], int] = {}

    def summary(
        self, selector: Selector, start_ns: int, end_ns: int, now_ns: int | None = None
    ) -> Summary:
        """Statistics of every selected series' samples in [start, end) together."""
        now = self._clock() if now_ns is None else now_ns
        if selector.hosts is not None and not selector.hosts:
            return Summary(0, None, None, None, None, None)
        tier = pick_tier(self._tiers, start_ns, 0, now)
        f = encode_name(selector.field)
        src = self._client.source(tier.name, encode_name(selector.measurement))
        w = where(time_range(start_ns, end_ns) + tag_conditions(selector.hosts, selector.tags))
        if not tier.is_raw:
            # The rollup tier where rolled up, finer data for the rest (stitch.py).
            windows = stitched_summary_windows(
                self._tiers,
                start_ns,
                end_ns,
                now,
                self._watermarks,
                lambda t, lo, hi: self._windows(selector, t, lo, hi),
            )
            return summary_of_rollups(windows or [])
        # The same question (selector and range length) usually has about the same count as
        # last time: remembered to size a speculative top().
        memo = (
            selector.measurement,
            selector.field,
            None if selector.hosts is None else tuple(selector.hosts),
            tuple(sorted(selector.tags.items())),
            (end_ns - start_ns) // NS,
        )
        return self._raw(ident(f), f"{src}{w}", memo)

    def _windows(self, selector: Selector, tier: Tier, lo: int, hi: int) -> list[Window]:
        """Rollup windows of `tier` in [lo, hi); raw values as windows of one."""
        f = encode_name(selector.field)
        src = self._client.source(tier.name, encode_name(selector.measurement))
        w = where(time_range(lo, hi) + tag_conditions(selector.hosts, selector.tags))
        if tier.is_raw:
            (result,) = self._client.query([f"SELECT {ident(f)} FROM {src}{w}"])
            values = [r[1] for _, _, _, found in rows(result) for r in found]
            return [(v, v, v, 1.0, v) for v in (float(x) for x in values if x is not None)]
        cols = ", ".join(ident(f"{f}_{s}") for s in ROLLUP_STATS)
        (result,) = self._client.query([f"SELECT {cols} FROM {src}{w}"])
        return [
            (float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]))
            for _, _, _, found in rows(result)
            for r in found
            if None not in r[1:6]
        ]

    def _raw(self, fi: str, src: str, memo: tuple[Any, ...]) -> Summary:
        """Exact statistics of raw values of field `fi` in `src` (FROM ... WHERE ...)."""
        stmts = [f"SELECT count({fi}), mean({fi}), min({fi}), max({fi}) FROM {src}"]
        # The values above p95 need the count first: ask top() for last time's count plus a
        # margin in the same request, so a repeated summary is one round trip.
        guess = self._counts.get(memo)
        spec_n = 0
        if guess is not None:
            hi = guess + guess // 20 + 16
            spec_n = min(SUMMARY_TOP_MAX, hi - percentile_ranks(hi, 95.0)[0])
            stmts.append(f"SELECT top({fi}, {integer(spec_n)}) FROM {src}")
        results = self._client.query(stmts)
        stats = [r for _, _, _, values in rows(results[0]) for r in values]
        if not stats or not stats[0][1]:
            return Summary(0, None, None, None, None, None)
        n, avg, mn, mx = int(stats[0][1]), stats[0][2], stats[0][3], stats[0][4]
        if len(self._counts) >= SUMMARY_MEMO_MAX:
            self._counts.clear()
        self._counts[memo] = n
        # InfluxQL's percentile() is nearest-rank: asking for rank (k+1)*100/n returns the
        # k-th smallest value exactly, so the two neighbours of each linear-interpolation
        # position are fetched and interpolated here, matching the SQL store to the bit.
        ranks = {q: percentile_ranks(n, q) for q in (95.0, 99.0)}
        wanted = sorted({k for lo, hi, _ in ranks.values() for k in (lo, hi)})
        top_n = n - wanted[0]
        top: list[float] = []
        if len(results) > 1:
            # The K largest values (K = spec_n, or all n if fewer): enough if K >= top_n.
            spec = sorted(
                (float(r[1]) for _, _, _, values in rows(results[1]) for r in values),
                reverse=True,
            )
            if len(spec) == min(spec_n, n) and len(spec) >= top_n:
                top = spec[:top_n]
        if not top and top_n <= SUMMARY_TOP_MAX:
            # One top() (a bounded heap in influxd) returns every value from the lowest
            # wanted rank up: far cheaper than one full sort per percentile() call.
            (result,) = self._client.query([f"SELECT top({fi}, {integer(top_n)}) FROM {src}"])
            top = sorted(
                (float(r[1]) for _, _, _, values in rows(result) for r in values), reverse=True
            )
        if len(top) == top_n:
            kth = {k: top[n - 1 - k] for k in wanted}
        else:  # too many values to fetch (or a server whose top() answered short)
            cols = ", ".join(
                f"percentile({fi}, {number((k + 1) * 100.0 / n)}) AS {ident(f'k{k}')}"
                for k in wanted
            )
            (result,) = self._client.query([f"SELECT {cols} FROM {src}"])
            row = next(r for _, _, _, values in rows(result) for r in values)
            kth = {k: float(v) for k, v in zip(wanted, row[1:], strict=True)}

        def interp(q: float) -> float:
            lo, hi, frac = ranks[q]
            return kth[lo] + (kth[hi] - kth[lo]) * frac

        return Summary(n, float(avg), float(mn), float(mx), interp(95.0), interp(99.0))
