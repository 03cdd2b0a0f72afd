"""The accept-only fast path for agent batches: orjson, then straight to a PointBatch.

`parse_batch` checks the envelope (batch_id, agent, a list of points). `FastCompiler`
turns the points into the store's flat `PointBatch` in one pass, for batches that certainly
pass both the strict pydantic adapter (`models.BatchDict`) and the Validator's limits. For
anything else (an unknown key, a wrong type, a name or value the rules reject, a time
outside the window, a case it does not decide) it returns None and the caller takes the
slow path, adapter then `Validator.points`, whose error names the point. It never rejects
anything itself, so the rules and messages live in one place.

Why it is cheap: names, tag values and counts are properties of a point's shape
(measurement, tags, field names), checked once per shape and cached; value types and
ranges are checked for the whole batch at once with C-level passes (`map(type, ...)`,
`min`, `max`) instead of a Python loop per value.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from fleetmon_api.ingest.models import MAX_STRING_VALUE
from fleetmon_api.ingest.validate import BadPoint, Validator
from fleetmon_db.timeseries import NS, FieldValue, PointBatch
from fleetmon_db.timeseries.base import PointShape

_BATCH_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_TOP_KEYS = frozenset({"batch_id", "agent", "points"})
_AGENT_KEYS = frozenset({"version", "dropped_points"})
_INT64 = 2**63
_PLAIN = frozenset({float, int})
_EMPTY: dict[str, str] = {}
# A raw point's cache key: (host, measurement, tags as items, field names), as sent.
_RawKey = tuple[str, object, tuple[tuple[str, object], ...], tuple[str, ...]]


def _agent_ok(agent: object) -> bool:
    if agent is None:
        return True
    if type(agent) is not dict or "version" not in agent or not _AGENT_KEYS.issuperset(agent):
        return False
    version = agent["version"]
    if type(version) is not str or len(version) > 64:
        return False
    if "dropped_points" in agent:
        dropped = agent["dropped_points"]
        if type(dropped) is not int or not 0 <= dropped < _INT64:
            return False
    return True


def parse_batch(body: bytes) -> dict[str, Any] | None:
    """The batch as plain dicts when its envelope certainly passes `BatchDict`; else None.

    The points are only known to be a list: `FastCompiler.compile` checks them.
    """
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or not _TOP_KEYS.issuperset(obj):
        return None
    batch_id = obj.get("batch_id")
    if type(batch_id) is not str or _BATCH_ID.fullmatch(batch_id) is None:
        return None
    if type(obj.get("points")) is not list or not _agent_ok(obj.get("agent")):
        return None
    return obj


def _values_ok(flat: list[Any]) -> bool:
    """Every field value (and time) is one the adapter accepts as the same type and value.

    orjson reads integer literals beyond 64 bits as floats where pydantic keeps (and
    rejects) ints, so floats of that magnitude are left to the adapter too.
    """
    if _PLAIN.issuperset(map(type, flat)):
        return not flat or (min(flat) > -_INT64 and max(flat) < _INT64)
    for v in flat:
        t = type(v)
        if t is float or t is int:
            if not -_INT64 < v < _INT64:
                return False
        elif t is str:
            if len(v) > MAX_STRING_VALUE:
                return False
        elif t is not bool:
            return False
    return True


class FastCompiler:
    """Builds PointBatches from parsed agent points, caching the shapes found valid."""

    def __init__(self, validator: Validator, max_shapes: int = 100_000) -> None:
        self._validator = validator
        self._shapes: dict[_RawKey, PointShape] = {}
        self._max_shapes = max_shapes

    def _learn(
        self, key: _RawKey, tags: dict[str, Any], fields: dict[str, Any]
    ) -> PointShape | None:
        """Check a new shape with the Validator's rules; its clean form, or None."""
        host, measurement, _, names = key
        if type(measurement) is not str or any(type(v) is not str for v in tags.values()):
            return None
        try:
            # Names, tag values and counts; the values are checked batch-wide later.
            self._validator.point(0, host, measurement, 0, tags, fields)
        except BadPoint:
            return None
        # The `host` tag is the key's, whatever the point says.
        clean = tuple((k, v) for k, v in tags.items() if k != "host")
        shape: PointShape = (host, measurement, clean, names)
        if len(self._shapes) >= self._max_shapes:
            self._shapes.clear()
        self._shapes[key] = shape
        return shape

    def compile(self, host: str, points: list[Any], now_ns: int) -> PointBatch | None:
        """The points as a PointBatch when all certainly pass; None to take the slow path."""
        lim = self._validator.limits
        lo, hi = now_ns - lim.max_past_ns, now_ns + lim.max_future_ns
        known = self._shapes
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
                if type(p) is not dict:
                    return None
                n = len(p)
                if n == 4:
                    tags = p["tags"]
                elif n == 3:
                    tags = _EMPTY
                else:
                    return None
                fields = p["fields"]
                t = p["time"]
                if type(tags) is not dict or type(fields) is not dict:
                    return None
                key = (host, p["measurement"], tuple(tags.items()), tuple(fields))
                shape = known.get(key)
                if shape is None:
                    shape = self._learn(key, tags, fields)
                    if shape is None:
                        return None
                tt = type(t)
                if tt is not float and tt is not int:
                    return None
                t_ns = int(t * NS)  # as Validator.points
                if t_ns < lo or t_ns > hi:
                    return None
                add_shape(shape)
                extend(fields.values())
                add_flat(t_ns)
                add_time(t_ns)
        # A missing key, an unhashable name or tag value, an infinite time.
        except (KeyError, TypeError, OverflowError, ValueError):
            return None
        if not _values_ok(flat):
            return None
        return PointBatch(shapes, flat, times)
