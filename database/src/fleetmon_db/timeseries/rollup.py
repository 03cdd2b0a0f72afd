"""The rollup scheduler, one for every store, over a small backend that each store implements.

A run walks the tiers in order (5m from raw, 1h from 5m, ...). For each tier it

1. recomputes the windows that late data dirtied (claimed from the backend), marks the
   enclosing windows of the next tier dirty (the cascade), all in one backend step;
2. rolls up every closed window past the tier's watermark, in chunks of `chunk_windows`
   windows, one step per chunk that also advances the watermark to the chunk's end.

A step is what the backend makes atomic where it can (one SQL transaction). Whatever fails
inside a step is retried by the next run: claimed windows stay claimable until their step
completes, and the watermark never passes a chunk that was not rolled up. Rolling up a
window again is harmless (windows are recomputed from the source and overwritten), so a
backend may hand out a window twice, never zero times.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from fleetmon_db.timeseries.compute import align_down, merge_ranges
from fleetmon_db.timeseries.model import NS, RollupReport
from fleetmon_db.timeseries.tiers import Tier

# What a backend needs to know about a source tier to roll it up (InfluxDB: the numeric
# fields of every measurement); opaque to the scheduler, fetched at most once per tier and run.
C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class DirtyClaim:
    """The windows of one tier that late data dirtied, as one claim hands them out."""

    # Marked since the last completed claim: recomputed, counted, cascaded through marks.
    fresh: frozenset[int]
    # Possibly handled already, handed out again because a mark may have raced with the
    # claim that took them: recomputed silently, and so are their enclosing coarser windows.
    recheck: frozenset[int] = frozenset()


class RollupStep(Protocol[C]):
    """The bookkeeping and work of one step; it takes effect when the step completes."""

    def watermarks(self) -> dict[str, int]:
        """Tier name -> end of the windows already rolled up, for every tier that has one."""
        ...

    def set_watermark(self, tier: str, end_ns: int) -> None:
        """Record that every window of `tier` before `end_ns` is rolled up."""
        ...

    def claim_dirty(self, tier: str) -> DirtyClaim:
        """The dirty windows of `tier`; consumed when the step completes, not before.

        A window marked after the claim is handed out by a later claim.
        """
        ...

    def mark_dirty(self, tier: str, windows: Collection[int]) -> None:
        """Mark windows (starts) of `tier` for recomputation."""
        ...

    def sources(self, src: Tier) -> C:
        """What `roll` needs to know about the source tier."""
        ...

    def first_time(self, src: Tier) -> int | None:
        """The time of the source tier's oldest point; None if it holds none; 0 if the store
        cannot tell cheaply (then a first run starts where the source's retention begins)."""
        ...

    def roll(self, src: Tier, dst: Tier, start_ns: int, end_ns: int, sources: C) -> None:
        """Compute (or recompute) every `dst` window in [start, end) from `src`."""
        ...


class RollupBackend(Protocol[C]):
    """The store side of rollups: steps of bookkeeping and work."""

    def step(self) -> AbstractContextManager[RollupStep[C]]:
        """A step: what is done inside lands together where the store can make it so."""
        ...


@dataclass(frozen=True, slots=True)
class LateCutoff:
    """Where late data begins: points before `before_ns` fall into closed windows of `tier`."""

    tier: str
    window_ns: int
    before_ns: int

    def windows(self, times: Iterable[int]) -> set[int]:
        """The windows (starts) of the late times among `times`."""
        w, before = self.window_ns, self.before_ns
        return {t - t % w for t in times if t < before}


class RollupScheduler(Generic[C]):
    """Runs rollups over a store's backend: watermarks, chunked catch-up, dirty windows, cascade."""

    def __init__(
        self,
        backend: RollupBackend[C],
        tiers: Sequence[Tier],
        *,
        delay_s: int = 60,
        chunk_windows: int = 24,
    ) -> None:
        self.backend = backend
        self.tiers = tuple(tiers)
        # A raw window is closed once it ended `delay_s` ago (agents' clocks and batching).
        self.delay_ns = delay_s * NS
        self.chunk_windows = max(1, chunk_windows)

    def late_cutoff(self, now_ns: int) -> LateCutoff | None:
        """Points written now that are older than this fall into windows already closed."""
        if len(self.tiers) < 2:
            return None
        first = self.tiers[1]
        window = first.resolution_s * NS
        return LateCutoff(first.name, window, align_down(now_ns - self.delay_ns, window))

    def until_next_close_s(self, now_ns: int) -> float | None:
        """Seconds until the next window of the finest rollup tier closes (None: no tier).

        A job that runs then keeps that tier's lag within one window + the close delay +
        its own run, where a fixed timer adds up to its whole interval on top."""
        if len(self.tiers) < 2:
            return None
        res = self.tiers[1].resolution_s * NS
        closes = align_down(now_ns - self.delay_ns, res) + res + self.delay_ns
        return (closes - now_ns) / NS

    def watermarks(self) -> dict[str, int]:
        """Tier name -> end of the windows already rolled up, as stored (read only)."""
        with self.backend.step() as step:
            return step.watermarks()

    def run(self, now_ns: int) -> RollupReport:
        """Recompute dirty windows, then roll up every closed window, tier after tier."""
        report: dict[str, int] = {}
        source_limit = now_ns - self.delay_ns
        carried: set[int] = set()
        for k in range(1, len(self.tiers)):
            src, dst = self.tiers[k - 1], self.tiers[k]
            nxt = self.tiers[k + 1] if k + 1 < len(self.tiers) else None
            sources = _Sources[C](src)
            wm, fresh, carried = self._recompute(src, dst, nxt, now_ns, carried, sources)
            res = dst.resolution_s * NS
            limit = max(wm, align_down(source_limit, res))
            for a, b in self._chunks(wm, limit, res):
                with self.backend.step() as step:
                    step.roll(src, dst, a, b, sources.get(step))
                    step.set_watermark(dst.name, b)
            report[dst.name] = (limit - wm) // res + fresh
            source_limit = limit
        return RollupReport(report)

    def _recompute(
        self,
        src: Tier,
        dst: Tier,
        nxt: Tier | None,
        now_ns: int,
        carried: set[int],
        sources: _Sources[C],
    ) -> tuple[int, int, set[int]]:
        """One step: the dirty windows of `dst` and the cascade to `nxt`.

        Returns the watermark of `dst`, how many fresh windows were recomputed, and the
        windows of `nxt` to recheck silently in this run.
        """
        res = dst.resolution_s * NS
        with self.backend.step() as step:
            marks = step.watermarks()
            wm = marks.get(dst.name)
            if wm is None:
                # First run: start where the source's data begins, within its retention. (Not
                # at the retention's start whatever the data: on InfluxDB a day of empty
                # windows for a fleet already sending was thousands of requests, one window
                # of one host group each, and the job did not finish a run for minutes.)
                closed = align_down(now_ns - self.delay_ns, res)
                first = step.first_time(src)
                # An empty source: every window closed so far is empty (later points are late).
                begins = closed if first is None else min(align_down(first, res), closed)
                wm = max(align_down(now_ns - src.retention_s * NS, res), begins)
                step.set_watermark(dst.name, wm)
            claim = step.claim_dirty(dst.name)
            # Windows at or past the watermark are rolled up by the catch-up.
            fresh = {w for w in claim.fresh if w < wm}
            again = {w for w in claim.recheck | carried if w < wm} - fresh
            for a, b in merge_ranges((w, w + res) for w in fresh | again):
                for c, d in self._chunks(a, b, res):
                    step.roll(src, dst, c, d, sources.get(step))
            nwm = None if nxt is None else marks.get(nxt.name)
            if nxt is None or nwm is None:
                # No coarser tier, or one not started yet: its first run covers these.
                return wm, len(fresh), set()
            width = nxt.resolution_s * NS
            up = {u for w in fresh if (u := align_down(w, width)) < nwm}
            if up:
                step.mark_dirty(nxt.name, up)
            return wm, len(fresh), {u for w in again if (u := align_down(w, width)) < nwm} - up

    def _chunks(self, start: int, end: int, res: int) -> Iterator[tuple[int, int]]:
        """Consecutive ranges of at most `chunk_windows` windows covering [start, end)."""
        span = res * self.chunk_windows
        for a in range(start, end, span):
            yield a, min(end, a + span)


class _Sources(Generic[C]):
    """A source tier's catalogue, fetched from the backend once per run, when first needed."""

    def __init__(self, src: Tier) -> None:
        self._src = src
        self._got: list[C] = []

    def get(self, step: RollupStep[C]) -> C:
        """The catalogue (asked of `step` the first time)."""
        if not self._got:
            self._got.append(step.sources(self._src))
        return self._got[0]
