"""Reads from InfluxDB: latest values, bucketed ranges, window aggregates, hosts and series."""

# ruff: noqa: S608  -- every spliced value goes through quoting (influxql.py) or is an int
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fleetmon_db.timeseries.compute import window_rate
from fleetmon_db.timeseries.influx.client import InfluxClient
from fleetmon_db.timeseries.influx.influxql import (
    host_regex,
    ident,
    integer,
    literal,
    tag_conditions,
    time_range,
    where,
)
from fleetmon_db.timeseries.influx.names import decode_name, encode_name
from fleetmon_db.timeseries.influx.results import KeyDecoder, key, number, rows, tag_items
from fleetmon_db.timeseries.model import (
    Aggregate,
    RangeQuery,
    Sample,
    Selector,
    SeriesData,
    SeriesKey,
)
from fleetmon_db.timeseries.stitch import stitched_range
from fleetmon_db.timeseries.tiers import Tier

# The columns that answer each aggregate from a rollup tier's stored statistics.
_ROLLUP_COLUMNS: dict[Aggregate, tuple[str, ...]] = {
    Aggregate.MEAN: ("sum({sum})", "sum({count})"),
    Aggregate.MIN: ("min({min})",),
    Aggregate.MAX: ("max({max})",),
    Aggregate.RATE: ("max({max})",),  # counters are monotonic: max = last but for resets
    Aggregate.SUM: ("sum({sum})",),
    Aggregate.COUNT: ("sum({count})",),
    Aggregate.LAST: ("last({mean})",),
}


def scope_conditions(selector: Selector, start_ns: int, end_ns: int) -> list[str]:
    """Time range, tags and hosts of a window query; hosts as one anchored regex.

    With a scope of 500 hosts a regex answers in a fifth to a sixth of the time of
    `host = 'a' OR host = 'b' ...` (bench alerts).
    """
    conds = time_range(start_ns, end_ns) + tag_conditions(None, selector.tags)
    if selector.hosts is not None:
        conds.append(f"{ident('host')} =~ {host_regex(selector.hosts)}")
    return conds


class InfluxReads:
    """The read side of the InfluxDB store."""

    def __init__(
        self,
        client: InfluxClient,
        tiers: Sequence[Tier],
        clock: Callable[[], int],
        watermarks: Callable[[], Mapping[str, int]],
    ):
        self._client = client
        # Rollup tier -> end of its rolled-up windows, as the rollup bookkeeping stores it.
        self._watermarks = watermarks
        self._tiers = tuple(tiers)
        self._raw = self._tiers[0].name
        self._clock = clock

    def latest(self, host: str, since_ns: int | None = None) -> list[Sample]:
        """Latest value of every series of `host`: two statements, one request."""
        conds = [f"{ident('host')} = {literal(encode_name(host))}", *time_range(since_ns, None)]
        w = where(conds)
        src = self._client.every_measurement(self._raw)
        last_rows, last_values = self._client.query(
            [
                f"SELECT * FROM {src}{w} GROUP BY * ORDER BY time DESC LIMIT 1",
                f"SELECT last(*) FROM {src}{w} GROUP BY *",
            ]
        )
        newest: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[int, dict[str, Any]]] = {}
        for name, tags, cols, values in rows(last_rows):
            if values:
                newest[(name, tag_items(tags))] = (
                    values[0][0],
                    dict(zip(cols[1:], values[0][1:], strict=False)),
                )
        out: list[Sample] = []
        missing: set[tuple[str, tuple[tuple[str, str], ...], str]] = set()
        for name, tags, cols, values in rows(last_values):
            tk = tag_items(tags)
            row = newest.get((name, tk))
            for col, val in zip(cols[1:], values[0][1:], strict=False):
                if val is None or not col.startswith("last_"):
                    continue
                field = col[5:]
                if row is not None and row[1].get(field) is not None:
                    out.append(Sample(key(name, tags, field), row[0], number(row[1][field])))
                else:
                    missing.add((name, tk, field))
        if missing:
            # A field absent from its series' newest row: ask for its own last() and time.
            pairs = sorted({(m, f) for m, _, f in missing})
            results = self._client.query(
                [
                    f"SELECT last({ident(f)}) FROM {self._client.source(self._raw, m)}{w}"
                    " GROUP BY *"
                    for m, f in pairs
                ]
            )
            for (m, f), result in zip(pairs, results, strict=True):
                for _, tags, _, values in rows(result):
                    if (m, tag_items(tags), f) in missing and values:
                        out.append(Sample(key(m, tags, f), values[0][0], number(values[0][1])))
        out.sort(key=lambda s: s.key)
        return out

    def latest_many(self, selectors: Sequence[Selector], since_ns: int) -> list[Sample]:
        """Latest value of every series matching any selector: one statement per selector."""
        stmts = []
        asked = []
        for sel in selectors:
            if sel.hosts is not None and not sel.hosts:
                continue
            conds = time_range(since_ns, None) + tag_conditions(sel.hosts, sel.tags)
            src = self._client.source(self._raw, encode_name(sel.measurement))
            stmts.append(
                f"SELECT last({ident(encode_name(sel.field))}) FROM {src}{where(conds)} GROUP BY *"
            )
            asked.append(sel)
        seen: dict[SeriesKey, Sample] = {}
        for result, sel in zip(self._client.query(stmts), asked, strict=True):
            for _, tags, _, values in rows(result):
                if values:
                    k = key(encode_name(sel.measurement), tags, encode_name(sel.field))
                    seen[k] = Sample(k, values[0][0], number(values[0][1]))
        return sorted(seen.values(), key=lambda s: s.key)

    def query_range(self, query: RangeQuery, now_ns: int | None = None) -> list[SeriesData]:
        """Bucketed values per series, stitched across tiers (stitch.py)."""
        now = self._clock() if now_ns is None else now_ns
        agg, sel, step_s = Aggregate(query.aggregate), query.selector, query.step_s
        return stitched_range(
            query,
            self._tiers,
            now,
            self._watermarks,
            lambda tier, lo, hi: self.tier_buckets(tier, sel, agg, lo, hi, step_s),
        )

    def tier_buckets(
        self, tier: Tier, sel: Selector, agg: Aggregate, lo: int, hi: int, step_s: int
    ) -> dict[SeriesKey, dict[int, float]]:
        """Each series' value per epoch-aligned bucket of `step_s`, from one tier, in [lo, hi).

        RATE: the counter per bucket (last raw value, max on rollup tiers).
        """
        f = encode_name(sel.field)
        m = encode_name(sel.measurement)
        if tier.is_raw:
            fn = "last" if agg in (Aggregate.RATE, Aggregate.LAST) else agg.value
            cols = [f"{fn}({ident(f)})"]
        else:
            names = {s: ident(f"{f}_{s}") for s in ("mean", "min", "max", "count", "sum")}
            cols = [c.format(**names) for c in _ROLLUP_COLUMNS[agg]]
        conds = time_range(lo, hi) + tag_conditions(sel.hosts, sel.tags)
        stmt = (
            f"SELECT {', '.join(cols)} FROM {self._client.source(tier.name, m)}{where(conds)}"
            f" GROUP BY time({integer(step_s)}s), * fill(none)"
        )
        (result,) = self._client.query([stmt])
        mean_of_sums = not tier.is_raw and agg is Aggregate.MEAN
        out: dict[SeriesKey, dict[int, float]] = {}
        for _, tags, _, values in rows(result):
            by_bucket: dict[int, float] = {}
            for row in values:
                if row[1] is None:
                    continue
                if mean_of_sums:
                    if row[2]:
                        by_bucket[row[0]] = float(row[1]) / float(row[2])
                else:
                    by_bucket[row[0]] = float(row[1])
            out[key(m, tags, f)] = by_bucket
        return out

    def aggregate(
        self, selector: Selector, start_ns: int, end_ns: int, aggregate: Aggregate
    ) -> list[Sample]:
        """One value per series over [start, end) from raw data."""
        if selector.hosts is not None and not selector.hosts:
            return []
        agg = Aggregate(aggregate)
        f = encode_name(selector.field)
        m = encode_name(selector.measurement)
        w = where(scope_conditions(selector, start_ns, end_ns))
        src = self._client.source(self._raw, m)
        out = []
        if agg is Aggregate.RATE:
            (result,) = self._client.query([f"SELECT {ident(f)} FROM {src}{w} GROUP BY *"])
            for _, tags, _, values in rows(result):
                rate = window_rate([(r[0], float(r[1])) for r in values if r[1] is not None])
                if rate is not None:
                    out.append(Sample(key(m, tags, f), end_ns, rate))
        else:
            (result,) = self._client.query(
                [f"SELECT {agg.value}({ident(f)}) FROM {src}{w} GROUP BY *"]
            )
            key_of = KeyDecoder(m, f)
            for _, tags, _, values in rows(result):
                if values and values[0][1] is not None:
                    out.append(Sample(key_of(tags), end_ns, number(values[0][1])))
        out.sort(key=lambda s: s.key)
        return out

    def aggregate_many(
        self, selector: Selector, start_ns: int, end_ns: int, aggregates: Sequence[Aggregate]
    ) -> dict[Aggregate, list[Sample]]:
        """The non-RATE aggregates in one statement (InfluxDB's cost is walking the series,
        not the functions); the same samples as one `aggregate` call each."""
        aggs = list(dict.fromkeys(Aggregate(a) for a in aggregates))
        out: dict[Aggregate, list[Sample]] = {a: [] for a in aggs}
        one = [a for a in aggs if a is not Aggregate.RATE]
        for a in aggs:
            if a is Aggregate.RATE or len(one) < 2:
                out[a] = self.aggregate(selector, start_ns, end_ns, a)
        if len(one) < 2 or (selector.hosts is not None and not selector.hosts):
            return out
        f = encode_name(selector.field)
        m = encode_name(selector.measurement)
        w = where(scope_conditions(selector, start_ns, end_ns))
        cols = ", ".join(f"{a.value}({ident(f)}) AS {ident(a.value)}" for a in one)
        (result,) = self._client.query(
            [f"SELECT {cols} FROM {self._client.source(self._raw, m)}{w} GROUP BY *"]
        )
        key_of = KeyDecoder(m, f)
        for _, tags, columns, values in rows(result):
            if not values:
                continue
            k = key_of(tags)
            row = dict(zip(columns, values[0], strict=False))
            for a in one:
                v = row.get(a.value)
                if v is not None:
                    out[a].append(Sample(k, end_ns, number(v)))
        for a in one:
            out[a].sort(key=lambda s: s.key)
        return out

    def hosts(self) -> list[str]:
        """Every value of the host tag in the database."""
        # ON names the database and rp= the raw tier: 3.x reads database `<db>/raw`; 2.x
        # reads its default DBRP mapping (the deployment maps the raw bucket); 1.x every RP.
        (result,) = self._client.query(
            [f"SHOW TAG VALUES ON {ident(self._client.database)} WITH KEY = {ident('host')}"],
            rp=self._raw,
        )
        return sorted({decode_name(r[1]) for _, _, _, values in rows(result) for r in values})

    def series(self, host: str) -> list[SeriesKey]:
        """Every series of a host, in any tier."""
        w = where([f"{ident('host')} = {literal(encode_name(host))}"])
        results = self._client.query(
            [
                f"SELECT last(*) FROM {self._client.every_measurement(t.name)}{w} GROUP BY *"
                for t in self._tiers
            ]
        )
        keys: set[SeriesKey] = set()
        for tier, result in zip(self._tiers, results, strict=True):
            for name, tags, cols, values in rows(result):
                for col, val in zip(cols[1:], values[0][1:], strict=False):
                    if val is None or not col.startswith("last_"):
                        continue
                    field = col[5:]
                    if not tier.is_raw:
                        if not field.endswith("_mean"):
                            continue
                        field = field[: -len("_mean")]
                    keys.add(key(name, tags, field))
        return sorted(keys)
