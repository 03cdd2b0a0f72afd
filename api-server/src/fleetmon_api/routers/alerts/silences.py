"""Silences: mute notifications matching every criterion given, between two instants;
list, create, expire (kept as a record) and delete."""

from __future__ import annotations

from datetime import datetime

from fastapi import HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from fleetmon_api.deps import AdminUser, DbSession, State, ViewerUser
from fleetmon_api.routers.alerts.common import MAX_ID, Id, Short, find_rule, make_router, now
from fleetmon_api.timeparse import UtcDateTime
from fleetmon_db.models import Silence

router = make_router()


class SilenceIn(BaseModel):
    """Mute notifications matching every criterion given, between two instants."""

    model_config = ConfigDict(extra="forbid")

    rule_id: int | None = Field(None, ge=1, le=MAX_ID)
    host: str | None = Field(None, min_length=1, max_length=253)
    labels: dict[Short, Short] = Field(default_factory=dict, max_length=32)
    starts_at: UtcDateTime | None = None
    ends_at: UtcDateTime
    comment: str = Field("", max_length=500)

    @model_validator(mode="after")
    def _sane(self) -> SilenceIn:
        if self.rule_id is None and not self.host and not self.labels:
            raise ValueError("a silence needs a rule_id, a host or labels (it would mute all)")
        if self.starts_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class SilenceOut(BaseModel):
    """A stored silence."""

    id: int
    rule_id: int | None
    host: str | None
    labels: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str | None
    active: bool


def _silence_out(s: Silence, at: datetime) -> SilenceOut:
    return SilenceOut(
        id=s.id,
        rule_id=s.rule_id,
        host=s.host,
        labels=s.labels or {},
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        comment=s.comment,
        created_by=s.created_by,
        active=s.starts_at <= at < s.ends_at,
    )


@router.get("/silences", response_model=list[SilenceOut])
def list_silences(
    db: DbSession,
    _user: ViewerUser,
    include_expired: bool = False,
) -> list[SilenceOut]:
    """Current and future silences (and expired ones if asked)."""
    at = now()
    stmt = select(Silence).order_by(Silence.starts_at)
    if not include_expired:
        stmt = stmt.where(Silence.ends_at > at)
    return [_silence_out(s, at) for s in db.scalars(stmt)]


@router.post("/silences", response_model=SilenceOut, status_code=201)
def create_silence(body: SilenceIn, db: DbSession, admin: AdminUser) -> SilenceOut:
    """Mute matching alerts from `starts_at` (default now) until `ends_at`."""
    if body.rule_id is not None:
        find_rule(db, body.rule_id)
    s = Silence(
        rule_id=body.rule_id,
        host=body.host,
        labels=body.labels,
        starts_at=body.starts_at or now(),
        ends_at=body.ends_at,
        comment=body.comment,
        created_by=admin.username,
    )
    db.add(s)
    db.commit()
    return _silence_out(s, now())


@router.delete("/silences/{silence_id}", status_code=204)
def delete_silence(silence_id: Id, db: DbSession, _admin: AdminUser) -> Response:
    """Remove a silence; matching firing alerts are notified at the next evaluation."""
    s = db.get(Silence, silence_id)
    if s is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such silence")
    db.delete(s)
    db.commit()
    return Response(status_code=204)


@router.post(
    "/silences/{silence_id}/expire",
    response_model=SilenceOut,
    responses={404: {"description": "No such silence"}},
)
def expire_silence(silence_id: Id, state: State, db: DbSession, _admin: AdminUser) -> SilenceOut:
    """End a silence now, keeping it as a record (DELETE removes it altogether); matching
    firing alerts are notified at the next evaluation."""
    s = db.get(Silence, silence_id)
    if s is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such silence")
    at = state.clock()
    if s.ends_at > at:
        s.ends_at = max(at, s.starts_at)
        db.commit()
    return _silence_out(s, at)
