"""The field-type check of ingest: a point whose field has another type than that field's
contract (fleetmon_db.fieldtypes) is refused for the host that sent it, before the store.

Integers and floats: the agent sends each field as its collector declares it (counters and
sizes as integers, percentages and rates as floats), and InfluxDB keeps the two apart. A
JSON number has no type of its own beyond "has a fraction or not", so an integer sent to a
float field is stored as a float (the value is the same); a float sent to an integer field
is refused (it would lose its fraction). Line protocol says which it means (`1i` or `1`).

Cheap on the hot path: a point costs one cache lookup of its (measurement, field names) and
one tuple comparison of its value types; only a field seen for the first time by this
process reads the metadata database (in a thread, off the event loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from fleetmon_api.errors import ApiError
from fleetmon_db import fieldtypes
from fleetmon_db.fieldtypes import TYPE_NAMES, FieldKey
from fleetmon_db.timeseries import PointBatch

# A point's type signature key: (measurement, field names in the point's order).
_Signature = tuple[str, tuple[str, ...]]
# Every field's known type, or None where this process does not know it yet.
_Expected = tuple[type | None, ...]

# Names a point in a message: its index in the batch -> "points[3]" or "line 4".
PointName = Callable[[int], str]


def json_point(i: int) -> str:
    """How an agent batch names its points."""
    return f"points[{i}]"


class FieldTypeConflict(ApiError):
    """422: a field sent with another type than its contract; names both types."""

    reason = "field_type"

    def __init__(self, where: str, measurement: str, field: str, sent: type, expected: type):
        super().__init__(
            422,
            f"{where}: field {field!r} of measurement {measurement!r} was sent as "
            f"{TYPE_NAMES[sent]}, but {measurement}.{field} is a {TYPE_NAMES[expected]} field "
            "for every host; the whole batch was rejected",
        )


class FieldTypes:
    """Each process's view of the field-type contract: declared types, and learnt ones
    cached after the metadata database has decided them (a decided type never changes)."""

    def __init__(self, engine: Engine, max_cached: int = 200_000) -> None:
        self._engine = engine
        self._known: dict[FieldKey, type] = {}
        self._signatures: dict[_Signature, _Expected] = {}
        self._max_cached = max_cached

    def _type_of(self, key: FieldKey) -> type | None:
        t = self._known.get(key)
        if t is None:
            t = fieldtypes.declared(*key)
        return t

    def _expected(self, sig: _Signature) -> _Expected:
        measurement, names = sig
        exp = tuple(self._type_of((measurement, n)) for n in names)
        if None not in exp:
            if len(self._signatures) >= self._max_cached:
                self._signatures.clear()
            self._signatures[sig] = exp
        return exp

    def _unknown(self, batch: PointBatch) -> dict[FieldKey, type]:
        """Fields of `batch` whose type this process does not know, with the type sent first."""
        out: dict[FieldKey, type] = {}
        flat, o = batch.flat, 0
        get = self._signatures.get
        for _, measurement, _, names in batch.shapes:
            n = len(names)
            sig = (measurement, names)
            if get(sig) is None:
                for j, t in enumerate(self._expected(sig)):
                    if t is None:
                        key, sent = (measurement, names[j]), type(flat[o + j])
                        # A JSON writer may drop the ".0" of whole floats: any float in
                        # the batch makes a field float.
                        if out.setdefault(key, sent) is int and sent is float:
                            out[key] = float
            o += n + 1
        return out

    async def check(self, batch: PointBatch, name: PointName = json_point) -> None:
        """Raise FieldTypeConflict for the first point that breaks the contract; integers
        sent to float fields become floats in `batch`. New fields are learnt first."""
        unknown = self._unknown(batch)
        if unknown:
            decided = await asyncio.to_thread(fieldtypes.claim, self._engine, unknown)
            if len(self._known) + len(decided) > self._max_cached:
                self._known.clear()
                self._signatures.clear()
            self._known.update(decided)
        self._check_known(batch, name)

    def _check_known(self, batch: PointBatch, name: PointName) -> None:
        flat, o = batch.flat, 0
        get = self._signatures.get
        for i, (_, measurement, _, names) in enumerate(batch.shapes):
            n = len(names)
            sig = (measurement, names)
            exp = get(sig)
            if exp is None:
                exp = self._expected(sig)
            if tuple(map(type, flat[o : o + n])) != exp:
                self._mismatch(name(i), measurement, names, exp, flat, o)
            o += n + 1

    @staticmethod
    def _mismatch(
        where: str,
        measurement: str,
        names: tuple[str, ...],
        exp: _Expected,
        flat: list[Any],
        o: int,
    ) -> None:
        for j, expected in enumerate(exp):
            value = flat[o + j]
            sent = type(value)
            if sent is expected:
                continue
            if expected is float and sent is int:
                flat[o + j] = float(value)
                continue
            # `expected` is never None here: `check` learns every unknown field first, with
            # no await between learning and checking.
            assert expected is not None
            raise FieldTypeConflict(where, measurement, names[j], sent, expected)
