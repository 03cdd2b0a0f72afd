"""A fast accept-only check of an agent batch: orjson plus strict type checks in Python.

`parse_batch` returns the same plain dicts `BATCH_ADAPTER.validate_json` would, for bodies
that pass every rule of `models.BatchDict`; for anything else (bad JSON, an unknown key, a
wrong type, a value out of range, or a case it does not decide) it returns None and the
caller runs the pydantic adapter, which accepts it or raises the usual error. It never
rejects anything itself, so error messages stay pydantic's. About 5x cheaper than the
adapter on the agents' batches (most of the cost of a strict union per field value).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from fleetmon_api.ingest.models import MAX_STRING_VALUE

_BATCH_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_TOP_KEYS = frozenset({"batch_id", "agent", "points"})
_AGENT_KEYS = frozenset({"version", "dropped_points"})
# orjson turns integer literals beyond 64 bits into floats, where pydantic keeps ints:
# floats of that magnitude are left to the adapter.
_BIG = float(2**63)
_INT64 = 2**63


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


def _points_ok(points: list[Any]) -> bool:
    for p in points:
        if type(p) is not dict:
            return False
        n = len(p)
        if "tags" in p:
            tags = p["tags"]
            if type(tags) is not dict:
                return False
            for k, v in tags.items():
                if type(v) is not str or type(k) is not str:  # keys: always str from JSON
                    return False
            n -= 1
        # measurement, time and fields present and nothing else.
        if n != 3 or "measurement" not in p or "time" not in p or "fields" not in p:
            return False
        if type(p["measurement"]) is not str:
            return False
        t = p["time"]
        tt = type(t)
        if tt is float:
            if not -_BIG < t < _BIG:  # also false for nan
                return False
        elif tt is not int:
            return False
        fields = p["fields"]
        if type(fields) is not dict:
            return False
        for v in fields.values():
            tv = type(v)
            if tv is float:
                if not -_BIG < v < _BIG:
                    return False
            elif tv is int:
                if not -_INT64 <= v < _INT64:
                    return False
            elif tv is str:
                if len(v) > MAX_STRING_VALUE:
                    return False
            elif tv is not bool:
                return False
    return True


def parse_batch(body: bytes) -> dict[str, Any] | None:
    """The batch as plain dicts when it certainly passes `BatchDict`; None to defer."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or not _TOP_KEYS.issuperset(obj):
        return None
    batch_id = obj.get("batch_id")
    points = obj.get("points")
    if type(batch_id) is not str or _BATCH_ID.fullmatch(batch_id) is None:
        return None
    if type(points) is not list or not _agent_ok(obj.get("agent")):
        return None
    if not _points_ok(points):
        return None
    return obj
