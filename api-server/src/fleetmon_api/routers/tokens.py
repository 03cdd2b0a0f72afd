"""Enrollment tokens: create (shown once), list, revoke. Admins only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from fleetmon_api import services
from fleetmon_api.deps import AdminUser, DbSession, State
from fleetmon_api.errors import ApiError
from fleetmon_db.models import EnrollToken

router = APIRouter(prefix="/api/v1/enroll-tokens", tags=["hosts"])


class TokenIn(BaseModel):
    """Options of a new enrollment token."""

    model_config = ConfigDict(extra="forbid")

    description: Annotated[str, Field(max_length=200)] = ""
    max_uses: Annotated[int | None, Field(ge=1, le=1_000_000)] = None
    expires_in_s: Annotated[int | None, Field(ge=1, le=365 * 86400)] = 86400
    labels: dict[Annotated[str, Field(max_length=128)], Annotated[str, Field(max_length=256)]] = (
        Field(default_factory=dict, max_length=64)
    )


class TokenCreated(BaseModel):
    """The token value is shown only here."""

    id: int
    token: str
    expires_at: datetime | None
    max_uses: int | None


@router.post("", status_code=201, response_model=TokenCreated)
def create_token(body: TokenIn, state: State, db: DbSession, admin: AdminUser) -> TokenCreated:
    """Create an enrollment token."""
    issued = services.create_enroll_token(
        db,
        state.clock(),
        description=body.description,
        max_uses=body.max_uses,
        expires_in_s=body.expires_in_s,
        labels=dict(body.labels),
        created_by=admin.username,
    )
    return TokenCreated(
        id=issued.id, token=issued.token, expires_at=issued.expires_at, max_uses=issued.max_uses
    )


@router.get("")
def list_tokens(state: State, db: DbSession, _admin: AdminUser) -> list[dict[str, Any]]:
    """Every enrollment token, without secrets."""
    now = state.clock()
    rows = db.scalars(select(EnrollToken).order_by(EnrollToken.id)).all()
    return [services.token_view(r, now) for r in rows]


@router.delete("/{token_id}", status_code=204, responses={404: {"description": "No such token"}})
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    state: State,
    db: DbSession,
    _admin: AdminUser,
) -> Response:
    """Revoke an enrollment token."""
    row = db.get(EnrollToken, token_id)
    if row is None:
        raise ApiError(404, f"enrollment token {token_id} not found")
    row.revoked_at = state.clock()
    db.commit()
    return Response(status_code=204)
