"""How far each rollup tier is behind: read by every worker, exposed in /metrics and /health."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fleetmon_db.timeseries import NS
from fleetmon_db.timeseries.tiers import Tier

# A tier is healthy while its lag stays within one of its windows plus this (the rollup
# delay for late agents, and one run of the job).
GRACE_S = 60.0


@dataclass(frozen=True, slots=True)
class LastRun:
    """The outcome of the newest rollup run this worker did or saw."""

    at: float  # epoch seconds
    ok: bool
    error: str | None = None


class RollupLag:
    """Watermarks of the rollup tiers as last read from the store, and the lag they mean."""

    def __init__(self, tiers: Sequence[Tier], clock: Callable[[], float] = time.time) -> None:
        self.tiers = [t for t in tiers if not t.is_raw]
        self._clock = clock
        self._lock = threading.Lock()
        self._watermarks: dict[str, int] = {}
        self.last_run: LastRun | None = None

    def update(self, watermarks: dict[str, int]) -> None:
        """Record the watermarks just read (tier -> end of the windows rolled up, ns)."""
        with self._lock:
            self._watermarks = dict(watermarks)

    def ran(self, ok: bool, error: str | None = None) -> None:
        """Record a run's outcome."""
        self.last_run = LastRun(self._clock(), ok, error)

    def lag_s(self, tier: str) -> float:
        """Seconds of data not yet rolled up into `tier` (NaN before its first watermark)."""
        with self._lock:
            wm = self._watermarks.get(tier)
        return float("nan") if wm is None else max(0.0, self._clock() - wm / NS)

    def detail(self) -> dict[str, Any]:
        """For /health: lag per tier, whether each is within one window + GRACE_S, last run."""
        tiers = {}
        for t in self.tiers:
            lag = self.lag_s(t.name)
            known = lag == lag  # not NaN
            tiers[t.name] = {
                "lag_s": round(lag, 1) if known else None,
                "within_bound": known and lag <= t.resolution_s + GRACE_S,
            }
        run = self.last_run
        # Only the worker that leads runs rollups; every worker reads the watermarks.
        if run is not None and not run.ok:
            status = "error"
        elif any(v["lag_s"] is None for v in tiers.values()):
            status = "unknown"
        elif all(v["within_bound"] for v in tiers.values()):
            status = "ok"
        else:
            status = "lagging"
        return {
            "status": status,
            "tiers": tiers,
            "last_run": None if run is None else {"at": run.at, "ok": run.ok, "error": run.error},
        }
