"""The accept-only fast path for agent batches: msgspec structs straight to a PointBatch.

`wire.fast_decode` reads the batch into structs whose types carry every per-value rule of
the reference model (`wire.BatchIn`), checked in C while parsing. `FastCompiler` turns the
points into the store's flat `PointBatch` in one pass, for batches that also certainly
pass the Validator's limits. For anything else (a name or tag value the rules reject, a
time outside the window, a case it does not decide) it returns None and the caller has
`Validator.points` check the same structs, whose error names the point (decode.py). It never
rejects anything itself, so the rules and messages live in one place.

Why it is cheap: names, tag values and counts are properties of a point's shape
(measurement, tags, field names), checked once per shape and cached; types and value
ranges were checked by the decoder, so a point costs a cache lookup and a few appends.
"""

from __future__ import annotations

from fleetmon_api.ingest.validate import BadPoint, Validator
from fleetmon_api.ingest.wire import WirePoint
from fleetmon_db.timeseries import NS, FieldValue, PointBatch, PointShape

# A raw point's cache key: (host, measurement, tags as items, field names), as sent.
_RawKey = tuple[str, str, tuple[tuple[str, str], ...], tuple[str, ...]]


class FastCompiler:
    """Builds PointBatches from decoded agent points, caching the shapes found valid."""

    def __init__(self, validator: Validator, max_shapes: int = 100_000) -> None:
        self._validator = validator
        self._shapes: dict[_RawKey, PointShape] = {}
        self._max_shapes = max_shapes

    def _learn(self, key: _RawKey, p: WirePoint) -> PointShape | None:
        """Check a new shape with the Validator's rules; its clean form, or None."""
        host, measurement, _, names = key
        try:
            # Names, tag values and counts; the decoder has checked every value.
            self._validator.point(0, host, measurement, 0, p.tags, p.fields)
        except BadPoint:
            return None
        # The `host` tag is the key's, whatever the point says.
        clean = tuple((k, v) for k, v in p.tags.items() if k != "host")
        shape: PointShape = (host, measurement, clean, names)
        if len(self._shapes) >= self._max_shapes:
            self._shapes.clear()
        self._shapes[key] = shape
        return shape

    @property
    def validator(self) -> Validator:
        """The Validator whose rules the cached shapes passed."""
        return self._validator

    def compile(self, host: str, points: list[WirePoint], now_ns: int) -> PointBatch | None:
        """The points as a PointBatch when all certainly pass; None to take the slow path."""
        lim = self._validator.limits
        lo, hi = now_ns - lim.max_past_ns, now_ns + lim.max_future_ns
        get = self._shapes.get
        shapes: list[PointShape] = []
        flat: list[FieldValue] = []
        times: list[int] = []
        add_shape, extend, add_flat, add_time = (
            shapes.append,
            flat.extend,
            flat.append,
            times.append,
        )
        try:
            for p in points:
                fields = p.fields
                key = (host, p.measurement, tuple(p.tags.items()), tuple(fields))
                shape = get(key)
                if shape is None:
                    shape = self._learn(key, p)
                    if shape is None:
                        return None
                t_ns = int(p.time * NS)  # as Validator.time_ns
                if t_ns < lo or t_ns > hi:
                    return None
                add_shape(shape)
                extend(fields.values())
                add_flat(t_ns)
                add_time(t_ns)
        except OverflowError:  # a float time beyond the float range once in ns
            return None
        return PointBatch(shapes, flat, times)
