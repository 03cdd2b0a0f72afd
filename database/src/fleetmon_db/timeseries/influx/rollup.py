"""The InfluxDB store's rollup backend: bookkeeping in measurements, windows by InfluxQL.

Rollup tiers keep, per raw field ``f``, the fields ``f_mean``, ``f_min``, ``f_max``,
``f_count`` and ``f_sum`` at the window start, in the same measurement and tags, in the
tier's RP. Bookkeeping lives in the coarsest tier's RP: ``_fleetmon_rollup`` (tag
``tier``; fields ``watermark`` and ``gen``, the generation of dirty marks processed) and
``_fleetmon_dirty`` (tag ``tier``, time = window start, field ``gen`` = wall-clock ns of
the marking write). InfluxDB 2.x/3.x cannot delete through the v1 API, so marks are never
deleted: a claim hands out the marks newer than the tier's ``gen``, and completing its
step advances ``gen`` to the newest of them.
"""

# ruff: noqa: S608  -- every spliced value goes through quoting (influxql.py) or is an int
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from fleetmon_db.timeseries.influx.client import InfluxClient
from fleetmon_db.timeseries.influx.influxql import ident, integer, literal, time_range, where
from fleetmon_db.timeseries.influx.lineprotocol import escape_key, series_prefix
from fleetmon_db.timeseries.influx.names import decode_name, encode_name
from fleetmon_db.timeseries.influx.results import rows
from fleetmon_db.timeseries.influx.write import LineWriter
from fleetmon_db.timeseries.model import NS, StoreTimeout
from fleetmon_db.timeseries.rollup import DirtyClaim
from fleetmon_db.timeseries.tiers import Tier

STATE_MEASUREMENT = "_fleetmon_rollup"
DIRTY_MEASUREMENT = "_fleetmon_dirty"
ROLLUP_STATS = ("mean", "min", "max", "count", "sum")
# Dirty marks are re-read this far behind the last processed generation, so a mark whose
# write raced with a claim is picked up by the next run (recomputing is idempotent).
GEN_OVERLAP_NS = 60 * NS

log = logging.getLogger(__name__)

# Stored measurement -> stored raw field names that can be rolled up from a source tier.
Fields = dict[str, list[str]]

# Bounded work per rollup request whatever the fleet's size: at most HOST_GROUP hosts, and
# a time span holding about ROWS_PER_REQUEST source rows per series (hosts x rows per host;
# raw rows are counted at RAW_STEP_S, the agent's default interval). One request reads every
# measurement of its hosts and span; a fleet ten times larger means ten times more requests,
# never a request ten times longer (one statement over every host timed out at 2,000 hosts).
HOST_GROUP = 200
ROWS_PER_REQUEST = 12_000
RAW_STEP_S = 5
# A request influxd did not answer in time is asked again as two of half the hosts, down to
# HOST_GROUP / 2**SPLITS hosts; a store that is down (not slow) is not asked again.
SPLITS = 3


@dataclass(frozen=True, slots=True)
class Sources:
    """What a rollup reads from a source tier: the numeric fields, and the hosts (stored form)."""

    fields: Fields
    hosts: tuple[str, ...]


def span_windows(src: Tier, dst: Tier, hosts: int) -> int:
    """Destination windows per request for `hosts` hosts (at least one)."""
    step = src.resolution_s or RAW_STEP_S
    return max(1, ROWS_PER_REQUEST * step // (max(1, hosts) * dst.resolution_s))


def host_condition(stored_hosts: Sequence[str]) -> str:
    """Matches any of these stored host tag values."""
    return "(" + " OR ".join(f"{ident('host')} = {literal(h)}" for h in stored_hosts) + ")"


class InfluxRollupBackend:
    """RollupBackend over InfluxQL reads and line-protocol writes."""

    def __init__(self, client: InfluxClient, lines: LineWriter, tiers: Sequence[Tier]) -> None:
        self.client, self.lines = client, lines
        self.meta = tiers[-1].name
        # Tier -> (watermark, gen) as last read or written here, so that a step that only
        # advances a watermark need not read the state first.
        self._known: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def step(self) -> Iterator[_Step]:
        """A step: the state it changes is written when it completes, not if it fails."""
        step = _Step(self)
        yield step
        step.commit()

    def read_state(self) -> dict[str, tuple[int, int]]:
        """Tier -> (watermark, processed generation), as stored."""
        src = self.client.source(self.meta, STATE_MEASUREMENT)
        (result,) = self.client.query(
            [
                f"SELECT watermark, gen FROM {src} GROUP BY {ident('tier')}"
                " ORDER BY time DESC LIMIT 1"
            ]
        )
        state = {}
        for _, tags, _, values in rows(result):
            if values and values[0][1] is not None:
                state[decode_name(tags.get("tier", ""))] = (int(values[0][1]), int(values[0][2]))
        with self._lock:
            self._known.update(state)
        return state

    def known_state(self, tier: str) -> tuple[int, int] | None:
        """The state of `tier` last read or written here, if any."""
        with self._lock:
            return self._known.get(tier)

    def write_state(self, tier: str, watermark: int, gen: int) -> None:
        """Store the state of one tier (a point at the watermark: the newest one wins)."""
        prefix = series_prefix(STATE_MEASUREMENT, [("tier", encode_name(tier))])
        self.lines.post(
            f"{prefix} watermark={watermark}i,gen={gen}i {watermark}\n".encode(), self.meta
        )
        with self._lock:
            self._known[tier] = (watermark, gen)

    def read_marks(self, tier: str, after_gen: int) -> list[tuple[int, int]]:
        """(window start, generation) of every dirty mark of `tier` newer than `after_gen`."""
        src = self.client.source(self.meta, DIRTY_MEASUREMENT)
        conds = [f"{ident('tier')} = {literal(encode_name(tier))}", f"gen > {integer(after_gen)}"]
        (result,) = self.client.query([f"SELECT gen FROM {src}{where(conds)}"])
        return [(int(t), int(g)) for _, _, _, values in rows(result) for t, g in values]

    def mark(self, tier: str, windows: Collection[int]) -> None:
        """Mark windows of `tier` dirty, stamped with the wall clock (the generation)."""
        gen = time.time_ns()
        prefix = series_prefix(DIRTY_MEASUREMENT, [("tier", encode_name(tier))])
        body = "".join(f"{prefix} gen={gen}i {w}\n" for w in sorted(windows))
        if body:
            self.lines.post(body.encode(), self.meta)

    def source_fields(self, src: Tier) -> Fields:
        """Stored measurement -> stored raw field names that can be rolled up from `src`."""
        # The RP as the rp= parameter, not in FROM: 3.x refuses "retention policy in from
        # clause" and reads database `<db>/<rp>` from ON + rp=; 1.x and 2.x take it too.
        (result,) = self.client.query(
            [f"SHOW FIELD KEYS ON {ident(self.client.database)} FROM /.*/"], rp=src.name
        )
        out: Fields = {}
        for name, _, _, values in rows(result):
            if name in (STATE_MEASUREMENT, DIRTY_MEASUREMENT):
                continue
            types = {r[0]: r[1] for r in values}
            if src.is_raw:
                fields = [k for k, t in types.items() if t in ("float", "integer")]
            else:
                fields = [
                    k[: -len("_mean")]
                    for k in types
                    if k.endswith("_mean")
                    and all(f"{k[: -len('_mean')]}_{s}" in types for s in ROLLUP_STATS)
                ]
            if fields:
                out[name] = sorted(fields)
        return out

    def first_time(self, src: Tier) -> int | None:
        """The oldest point of the source tier: the earliest `first()` of one field of each
        measurement (every measurement, since each may have started at another time)."""
        fields = self.source_fields(src)
        if not fields:
            return None
        names = sorted(fields)
        # A rollup tier stores f as f_mean, f_min, ... (source_fields names f).
        suffix = "" if src.is_raw else "_mean"
        results = self.client.query(
            [f"SELECT first({ident(fields[m][0] + suffix)}) FROM {self.client.source(src.name, m)}"
             for m in names]
        )  # fmt: skip
        times = [int(values[0][0]) for r in results for _, _, _, values in rows(r) if values]
        return min(times, default=None)

    def source_hosts(self, src: Tier) -> tuple[str, ...]:
        """Every host tag value (stored form) of the source tier, sorted.

        The tier goes as `rp=` with an unqualified FROM, the one shape 1.x, 2.7 and 3.7+ all
        take (3.x refuses a retention policy in FROM; 2.7 reads the default mapping's bucket,
        raw, which holds every host that sent in the last day: the windows being rolled)."""
        (result,) = self.client.query(
            [f"SHOW TAG VALUES ON {ident(self.client.database)} FROM /.*/"
             f" WITH KEY = {ident('host')}"],
            rp=src.name,
        )  # fmt: skip
        return tuple(sorted({str(v[1]) for _, _, _, values in rows(result) for v in values}))

    def roll(self, src: Tier, dst: Tier, start: int, end: int, sources: Sources) -> None:
        """Every `dst` window in [start, end): requests of bounded hosts and span, lines written."""
        if not sources.fields or not sources.hosts:
            return
        res = dst.resolution_s * NS
        for i in range(0, len(sources.hosts), HOST_GROUP):
            group = sources.hosts[i : i + HOST_GROUP]
            span = span_windows(src, dst, len(group)) * res
            for a in range(start, end, span):
                self._roll_split(src, dst, a, min(end, a + span), sources.fields, group, SPLITS)

    def _roll_split(
        self,
        src: Tier,
        dst: Tier,
        start: int,
        end: int,
        fields: Fields,
        hosts: Sequence[str],
        splits: int,
    ) -> None:
        """`_roll_part`, asked again in two halves of the hosts if influxd timed out."""
        try:
            self._roll_part(src, dst, start, end, fields, hosts)
        except StoreTimeout:
            if splits <= 0 or len(hosts) < 2:
                raise
            half = len(hosts) // 2
            log.warning("rollup of %d hosts timed out; asking again in halves", len(hosts))
            for part in (hosts[:half], hosts[half:]):
                self._roll_split(src, dst, start, end, fields, part, splits - 1)

    def _roll_part(
        self, src: Tier, dst: Tier, start: int, end: int, fields: Fields, hosts: Sequence[str]
    ) -> None:
        """The `dst` windows of [start, end) for `hosts`: one statement per measurement."""
        stmts = []
        names = sorted(fields)
        conds = [*time_range(start, end), host_condition(hosts)]
        for m in names:
            cols = []
            for f in fields[m]:
                if src.is_raw:
                    fi = ident(f)
                    cols += [f"min({fi})", f"max({fi})", f"count({fi})", f"sum({fi})"]
                else:
                    cols += [
                        f"min({ident(f + '_min')})",
                        f"max({ident(f + '_max')})",
                        f"sum({ident(f + '_count')})",
                        f"sum({ident(f + '_sum')})",
                    ]
            cols = [f"{c} AS {ident(f'c{i}')}" for i, c in enumerate(cols)]
            stmts.append(
                f"SELECT {', '.join(cols)} FROM {self.client.source(src.name, m)}"
                f"{where(conds)}"
                f" GROUP BY time({integer(dst.resolution_s)}s), * fill(none)"
            )
        lines: list[str] = []
        for m, result in zip(names, self.client.query(stmts), strict=True):
            keys = [tuple(escape_key(f"{f}_{s}") + "=" for s in ROLLUP_STATS) for f in fields[m]]
            for name, tags, _, values in rows(result):
                prefix = series_prefix(name, tags.items())
                for row in values:
                    parts = []
                    for i, (k_mean, k_min, k_max, k_count, k_sum) in enumerate(keys):
                        mn, mx, count, total = row[1 + 4 * i : 5 + 4 * i]
                        if not count or mn is None:
                            continue
                        parts.append(
                            f"{k_mean}{float(total) / float(count)!r},{k_min}{float(mn)!r},"
                            f"{k_max}{float(mx)!r},{k_count}{float(count)!r},{k_sum}{float(total)!r}"
                        )
                    if parts:
                        lines.append(f"{prefix} {','.join(parts)} {row[0]}")
        self.lines.post_lines(lines, dst.name)


class _Step:
    """One rollup step on InfluxDB: rolls and marks are written at once, state at the end."""

    def __init__(self, backend: InfluxRollupBackend) -> None:
        self._b = backend
        self._state: dict[str, tuple[int, int]] | None = None
        self._watermarks: dict[str, int] = {}
        self._gens: dict[str, int] = {}

    def _stored(self, tier: str) -> tuple[int, int] | None:
        if self._state is None:
            known = self._b.known_state(tier)
            if known is not None:
                return known
            self._state = self._b.read_state()
        return self._state.get(tier)

    def watermarks(self) -> dict[str, int]:
        """Tier -> watermark, as stored now."""
        self._state = self._b.read_state()
        return {t: wm for t, (wm, _) in self._state.items()}

    def set_watermark(self, tier: str, end_ns: int) -> None:
        """Written when the step completes."""
        self._watermarks[tier] = end_ns

    def claim_dirty(self, tier: str) -> DirtyClaim:
        """Marks newer than the processed generation; marks up to GEN_OVERLAP_NS older to
        recheck; the generation advances when the step completes."""
        last_gen = (self._stored(tier) or (0, 0))[1]
        marks = self._b.read_marks(tier, last_gen - GEN_OVERLAP_NS)
        self._gens[tier] = max((g for _, g in marks), default=last_gen)
        fresh = frozenset(w for w, g in marks if g > last_gen)
        return DirtyClaim(fresh, frozenset(w for w, g in marks if g <= last_gen) - fresh)

    def mark_dirty(self, tier: str, windows: Collection[int]) -> None:
        """Written at once (a mark too many costs a recomputation, never a stale window)."""
        self._b.mark(tier, windows)

    def sources(self, src: Tier) -> Sources:
        """The numeric fields of every measurement of the source tier, and its hosts."""
        return Sources(self._b.source_fields(src), self._b.source_hosts(src))

    def first_time(self, src: Tier) -> int | None:
        """The oldest point of the source tier (None: it holds none)."""
        return self._b.first_time(src)

    def roll(self, src: Tier, dst: Tier, start_ns: int, end_ns: int, sources: Sources) -> None:
        """Written at once."""
        self._b.roll(src, dst, start_ns, end_ns, sources)

    def commit(self) -> None:
        """Write the state of every tier this step moved."""
        for tier in sorted(self._watermarks.keys() | self._gens.keys()):
            stored = self._stored(tier)
            wm = self._watermarks.get(tier, stored[0] if stored else None)
            if wm is None:
                continue  # nothing to anchor the state to: the marks are claimed again
            gen = self._gens.get(tier, stored[1] if stored else 0)
            self._b.write_state(tier, wm, max(gen, stored[1] if stored else 0))
