"""The agent's wire format as msgspec structs: the fast path's decoder.

A twin of `models.BatchIn` with the same types and value limits, checked in C while the
JSON is read: unknown keys rejected, nothing coerced, 64-bit integers, finite floats,
bounded strings. It must never accept what the strict pydantic adapter rejects; whatever it
rejects goes to that adapter, whose message names the error (tests/api/test_ingest_fastpath.py
checks the agreement).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from fleetmon_api.ingest.models import MAX_STRING_VALUE

# `Meta(pattern=...)` searches (unanchored); `\Z`, unlike `$`, refuses a trailing newline.
BATCH_ID_PATTERN = r"^[A-Za-z0-9_.:-]+\Z"

# Same order as models.FieldValueIn: a JSON integer is an int, a JSON true is a bool.
# Floats need no bounds: msgspec refuses a literal beyond the float range (1e400).
WireValue = (
    bool
    | Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]
    | float
    | Annotated[str, Meta(max_length=MAX_STRING_VALUE)]
)


# gc=False: these hold only strings and numbers, so they can never be part of a cycle, and
# a batch of them no longer triggers cyclic collections.
class WirePoint(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One point as sent."""

    measurement: str
    time: float | int
    fields: dict[str, WireValue]
    tags: dict[str, str] = {}


class WireAgent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The agent's own state as sent."""

    version: Annotated[str, Meta(max_length=64)]
    dropped_points: Annotated[int, Meta(ge=0)] = 0


class WireBatch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A batch as sent."""

    batch_id: Annotated[str, Meta(min_length=1, max_length=64, pattern=BATCH_ID_PATTERN)]
    points: list[WirePoint]
    agent: WireAgent | None = None


_DECODER = msgspec.json.Decoder(WireBatch)


def decode(body: bytes) -> WireBatch | None:
    """The batch when it certainly passes the strict adapter's types; else None."""
    try:
        return _DECODER.decode(body)
    except msgspec.DecodeError:  # malformed JSON, and (a subclass) ValidationError
        return None
