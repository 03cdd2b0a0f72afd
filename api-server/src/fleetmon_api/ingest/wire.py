"""The agent -> server wire format (DESIGN "Wire contract"), declared once on the server side.

Two decoders read it, with the same types and value limits (the constants below):

- `BatchIn` (pydantic, strict): the reference. It documents the body in the OpenAPI page,
  names the first error of a rejected batch, and is what tests/contract checks the agent's
  real output against.
- `WireBatch` (msgspec structs): the fast path's decoder, with the limits in its types so
  they are checked in C while parsing. It must accept only what `BatchIn` accepts, and
  build the same values; whatever it refuses, `BatchIn` decides
  (tests/api/test_ingest_fastpath.py checks the agreement, ADR 0004 says why there are two).

The agent cannot import this package: its `Point.to_wire` is the one other copy, and
tests/contract checks its output against both decoders here.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta
from pydantic import BaseModel, ConfigDict, Field

# Limits shared by both decoders.
MAX_STRING_VALUE = 4096
MAX_BATCH_ID = 64
MAX_AGENT_VERSION = 64
# The agent's drop counters: reason -> points, at most this many reasons of this shape.
MAX_DROP_REASONS = 16
DROP_REASON_CHARS = r"[a-z0-9_]"
MAX_DROP_REASON = 32
# A clock offset beyond this is not a measurement (ten years).
MAX_CLOCK_OFFSET_S = 10 * 366 * 86400.0
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# One character class, anchored for each engine: pydantic's Rust regex (and the JSON Schema
# published from it) ends at `$`; msgspec's Python `re` needs `\Z`, as its `$` would also
# match before a trailing newline.
BATCH_ID_CHARS = r"[A-Za-z0-9_.:-]"

# ---- the reference: strict pydantic models -------------------------------------------------

# left_to_right: strict bool, then int, then float, then str (a JSON integer outside the
# 64-bit range is therefore read as a float, as it always was).
FieldValueIn = Annotated[
    bool
    | Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
    | float
    | Annotated[str, Field(max_length=MAX_STRING_VALUE)],
    Field(union_mode="left_to_right"),
]
_STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class PointIn(BaseModel):
    """One point: measurement, epoch seconds, tags and at least one field."""

    model_config = _STRICT

    measurement: str
    time: float | int = Field(description="Unix time in seconds (fractions allowed)")
    tags: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, FieldValueIn]


class AgentIn(BaseModel):
    """The agent's own state at send time."""

    model_config = _STRICT

    version: Annotated[str, Field(max_length=MAX_AGENT_VERSION)]
    dropped_points: Annotated[int, Field(ge=0)] = Field(
        0, description="Points the agent dropped since its spool was created (sum of `dropped`)"
    )
    dropped: Annotated[
        dict[
            Annotated[str, Field(max_length=MAX_DROP_REASON, pattern=f"^{DROP_REASON_CHARS}+$")],
            Annotated[int, Field(ge=0, le=INT64_MAX)],
        ],
        Field(max_length=MAX_DROP_REASONS),
    ] = Field(default_factory=dict, description="Points dropped so far, by reason (cumulative)")
    quarantined_files: Annotated[int, Field(ge=0, le=INT64_MAX)] = Field(
        0, description="Spool files set aside as unreadable or refused so far (cumulative)"
    )
    clock_offset_s: Annotated[float, Field(ge=-MAX_CLOCK_OFFSET_S, le=MAX_CLOCK_OFFSET_S)] = Field(
        0.0,
        description="Server clock minus the agent's, as the agent measured it; the batch's "
        "timestamps are already corrected by it",
    )


class BatchIn(BaseModel):
    """A batch as agents POST it to /api/v1/metrics/collect."""

    model_config = _STRICT

    batch_id: Annotated[
        str, Field(min_length=1, max_length=MAX_BATCH_ID, pattern=f"^{BATCH_ID_CHARS}+$")
    ]
    agent: AgentIn | None = None
    points: list[PointIn]


# ---- the fast decoder: msgspec structs -----------------------------------------------------

# Same order as FieldValueIn; an integer out of range fails here (BatchIn reads it as a
# float). Floats need no bounds: msgspec refuses a literal beyond the float range (1e400).
WireValue = (
    bool
    | Annotated[int, Meta(ge=INT64_MIN, le=INT64_MAX)]
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

    version: Annotated[str, Meta(max_length=MAX_AGENT_VERSION)]
    dropped_points: Annotated[int, Meta(ge=0)] = 0
    dropped: Annotated[
        dict[
            Annotated[str, Meta(max_length=MAX_DROP_REASON, pattern=f"^{DROP_REASON_CHARS}+\\Z")],
            Annotated[int, Meta(ge=0, le=INT64_MAX)],
        ],
        Meta(max_length=MAX_DROP_REASONS),
    ] = {}
    quarantined_files: Annotated[int, Meta(ge=0, le=INT64_MAX)] = 0
    clock_offset_s: Annotated[float, Meta(ge=-MAX_CLOCK_OFFSET_S, le=MAX_CLOCK_OFFSET_S)] = 0.0


class WireBatch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A batch as sent."""

    batch_id: Annotated[
        str, Meta(min_length=1, max_length=MAX_BATCH_ID, pattern=f"^{BATCH_ID_CHARS}+\\Z")
    ]
    points: list[WirePoint]
    agent: WireAgent | None = None


_DECODER = msgspec.json.Decoder(WireBatch)


def fast_decode(body: bytes) -> WireBatch | None:
    """The batch when it certainly passes `BatchIn`; None when `BatchIn` must decide."""
    try:
        return _DECODER.decode(body)
    except msgspec.DecodeError:  # malformed JSON, and (a subclass) ValidationError
        return None


class Accepted(BaseModel):
    """The answer to an accepted (or already accepted) batch."""

    batch_id: str | None
    host: str
    points: int
    fields: int
    duplicate: bool = False
