"""The field-type check of ingest: a point whose field has another type than that field's
contract (fleetmon_db.fieldtypes) is refused for the host that sent it, before the store.

Integers and floats: the agent sends each field as its collector declares it (counters and
sizes as integers, percentages and rates as floats), and InfluxDB keeps the two apart. A
JSON number has no type of its own beyond "has a fraction or not", so an integer sent to a
float field is stored as a float (the value is the same). A float sent to an integer field is
stored as that integer when it is whole (other agents write sizes as floats: Glances sends
`mem.active 123456.0`, which the agent declares an integer) and refused when it has a fraction
(it would lose it). Line protocol says which it means (`1i` or `1`).

Cheap on the hot path: a point costs one cache lookup of its (measurement, field names) and
one tuple comparison of its value types; only a field seen for the first time by this
process reads the metadata database (in a thread, off the event loop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from itertools import chain
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from fleetmon_api.errors import ApiError
from fleetmon_db import fieldtypes
from fleetmon_db.fieldtypes import TYPE_NAMES, FieldKey
from fleetmon_db.timeseries import PointBatch

log = logging.getLogger(__name__)

# Whole floats in this range are stored as integers in integer fields (exact for int64).
_I64_MIN, _I64_END = -(2.0**63), 2.0**63

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

    def __init__(self, engine: Engine, retry_after_s: int = 5, max_cached: int = 200_000) -> None:
        self._engine = engine
        self._retry_after = str(retry_after_s)
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
        # The time that follows the values of each point in `PointBatch.flat` is an int.
        exp = (*(self._type_of((measurement, n)) for n in names), int)
        if None not in exp:
            if len(self._signatures) >= self._max_cached:
                self._signatures.clear()
            self._signatures[sig] = exp
        return exp

    def expectations(self, batch: PointBatch) -> tuple[list[_Expected], bool]:
        """The types expected in each point of `batch` (values, then the time), and whether
        this process knows them all."""
        get = self._signatures.get
        exps = [get((m, names)) for _, m, _, names in batch.shapes]
        complete = True
        if None in exps:
            for i, (_, m, _, names) in enumerate(batch.shapes):
                e = exps[i]
                if e is None:
                    exps[i] = e = self._expected((m, names))
                    complete = complete and None not in e
        return exps, complete  # type: ignore[return-value]

    @staticmethod
    def _unknown(batch: PointBatch, exps: list[_Expected]) -> dict[FieldKey, type]:
        """Fields of `batch` whose type is not known, with the type sent first."""
        out: dict[FieldKey, type] = {}
        flat, o = batch.flat, 0
        for (_, measurement, _, names), exp in zip(batch.shapes, exps, strict=True):
            if None in exp:
                for j, t in enumerate(exp[:-1]):
                    if t is None:
                        key, sent = (measurement, names[j]), type(flat[o + j])
                        # A JSON writer may drop the ".0" of whole floats: any float in
                        # the batch makes a field float.
                        if out.setdefault(key, sent) is int and sent is float:
                            out[key] = float
            o += len(names) + 1
        return out

    async def check(self, batch: PointBatch, name: PointName = json_point) -> None:
        """Raise FieldTypeConflict for the first point that breaks the contract; integers
        sent to float fields become floats in `batch`. New fields are learnt first."""
        exps, complete = self.expectations(batch)
        if not complete:
            unknown = self._unknown(batch, exps)
            try:
                decided = await asyncio.to_thread(fieldtypes.claim, self._engine, unknown)
            except SQLAlchemyError:
                # Nothing stored: the sender retries (agents retry 503), as for the store.
                log.warning("field types: metadata database unavailable", exc_info=True)
                raise ApiError(
                    503,
                    "metadata database unavailable; retry later",
                    {"Retry-After": self._retry_after},
                ) from None
            if len(self._known) + len(decided) > self._max_cached:
                self._known.clear()
                self._signatures.clear()
            self._known.update(decided)
            exps, complete = self.expectations(batch)
        self.enforce(batch, exps, name)

    def enforce(
        self, batch: PointBatch, exps: list[_Expected], name: PointName = json_point
    ) -> None:
        """Check `batch` against its complete `expectations`."""
        flat = batch.flat
        # One comparison for the whole batch (C loops); point by point only when it fails.
        if list(map(type, flat)) == list(chain.from_iterable(exps)):
            return
        o = 0
        for i, ((_, measurement, _, names), exp) in enumerate(zip(batch.shapes, exps, strict=True)):
            n = len(names)
            if tuple(map(type, flat[o : o + n + 1])) != exp:
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
        for j, expected in enumerate(exp[:-1]):
            value = flat[o + j]
            sent = type(value)
            if sent is expected:
                continue
            if expected is float and sent is int:
                flat[o + j] = float(value)
                continue
            if (
                expected is int
                and sent is float
                and value.is_integer()
                and _I64_MIN <= value < _I64_END
            ):
                flat[o + j] = int(value)
                continue
            # `expected` is never None: `check` learns every unknown field first, with no
            # await between learning and checking.
            assert expected is not None
            raise FieldTypeConflict(where, measurement, names[j], sent, expected)
