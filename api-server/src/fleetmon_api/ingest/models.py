"""The agent's wire format: strict models (schema, docs) and a TypedDict twin (fast path).

Both reject unknown fields and coerce nothing. The TypedDict adapter validates the same
JSON into plain dicts, which avoids building a model object per point on the hot path.
"""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict

# Value limits live in the types so pydantic-core checks them while parsing (no Python loop):
# finite floats only, 64-bit integers, bounded strings.
MAX_STRING_VALUE = 4096
# left_to_right: strict bool, then int, then float, then str; measurably faster than smart mode.
FieldValueIn = Annotated[
    bool
    | Annotated[int, Field(ge=-(2**63), lt=2**63)]
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

    version: Annotated[str, Field(max_length=64)]
    dropped_points: Annotated[int, Field(ge=0)] = 0


class BatchIn(BaseModel):
    """A batch as agents POST it to /api/v1/metrics/collect."""

    model_config = _STRICT

    batch_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    agent: AgentIn | None = None
    points: list[PointIn]


@with_config(_STRICT)
class _PointDict(TypedDict):
    measurement: str
    time: float | int
    tags: NotRequired[dict[str, str]]
    fields: dict[str, FieldValueIn]


@with_config(_STRICT)
class _AgentDict(TypedDict):
    version: Annotated[str, Field(max_length=64)]
    dropped_points: NotRequired[Annotated[int, Field(ge=0)]]


@with_config(_STRICT)
class BatchDict(TypedDict):
    """Same shape as BatchIn, validated into plain dicts."""

    batch_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    agent: NotRequired[_AgentDict | None]
    points: list[_PointDict]


BATCH_ADAPTER: TypeAdapter[BatchDict] = TypeAdapter(BatchDict)


class Accepted(BaseModel):
    """The answer to an accepted (or already accepted) batch."""

    batch_id: str | None
    host: str
    points: int
    fields: int
    duplicate: bool = False
