"""Retention tiers and the rule that picks one for a query."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from fleetmon_db.timeseries.model import NS


@dataclass(frozen=True, slots=True)
class Tier:
    """One resolution of stored data: `resolution_s` 0 means raw points."""

    name: str
    resolution_s: int
    retention_s: int

    @property
    def is_raw(self) -> bool:
        """True for the tier that holds the points as written."""
        return self.resolution_s == 0


HOUR = 3600
STABILITY_GRACE_S = 60
DAY = 24 * HOUR

DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier("raw", 0, DAY),
    Tier("5m", 300, 7 * DAY),
    Tier("1h", HOUR, 30 * DAY),
    Tier("1d", DAY, 365 * DAY),
)


def validate_tiers(tiers: Sequence[Tier]) -> None:
    """Raise ValueError unless tiers start raw, grow coarser, and each divides the next."""
    if not tiers or not tiers[0].is_raw:
        raise ValueError("tiers: the first tier must be raw (resolution 0)")
    # The raw tier has no resolution to divide by; check the rollup tiers pairwise.
    for prev, cur in itertools.pairwise(tiers[1:]):
        if cur.resolution_s <= prev.resolution_s or cur.resolution_s % prev.resolution_s:
            raise ValueError(
                f"tiers: {cur.name} resolution {cur.resolution_s}s must be a multiple of "
                f"{prev.name} resolution {prev.resolution_s}s"
            )
    for t in tiers:
        if t.retention_s <= 0:
            raise ValueError(f"tiers: {t.name} retention must be positive")


def pick_tier(tiers: Sequence[Tier], start_ns: int, step_s: int, now_ns: int) -> Tier:
    """Coarsest tier whose resolution fits in `step_s` and whose retention still covers `start_ns`.

    "Covers" allows `max(60 s, step)` of slack past the retention, so a range of exactly a
    tier's retention keeps that tier.

    If no tier with a fine enough resolution reaches back to `start_ns`, the finest tier
    that does is used (coarser data beats no data).
    """
    age_s = max(0, (now_ns - start_ns) // NS)
    # A range of exactly the retention ("last 30 days") is a moment older by the time it is
    # served; without slack it would flip to a coarser tier between two identical requests.
    # Missing the oldest minute or step of a tier beats a different resolution each refresh.
    grace_s = max(STABILITY_GRACE_S, step_s)
    covering = [t for t in tiers if t.retention_s + grace_s >= age_s]
    fitting = [t for t in covering if t.resolution_s <= step_s]
    if fitting:
        return max(fitting, key=lambda t: t.resolution_s)
    if covering:
        return min(covering, key=lambda t: t.resolution_s)
    return max(tiers, key=lambda t: t.retention_s)
