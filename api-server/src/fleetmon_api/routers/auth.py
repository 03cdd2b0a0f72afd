"""People sign in: username/password form -> short-lived JWT."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from pydantic import BaseModel
from sqlalchemy import select

from fleetmon_api.deps import CurrentUser, DbSession, State, limit_by_ip
from fleetmon_api.errors import ApiError
from fleetmon_api.security import issue_token, verify_password
from fleetmon_db.models import User

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenOut(BaseModel):
    """An OAuth2-style bearer token."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 scheme name
    expires_in: int


class MeOut(BaseModel):
    """Who the token belongs to."""

    username: str
    role: str


@router.post(
    "/token",
    response_model=TokenOut,
    dependencies=[limit_by_ip("login")],  # type: ignore[list-item]
    responses={401: {"description": "Bad credentials"}, 429: {"description": "Rate limited"}},
)
def login(
    state: State,
    db: DbSession,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
) -> TokenOut:
    """Exchange username and password for a JWT (rate-limited per client IP)."""
    user = db.scalar(select(User).where(User.username == username))
    ok = verify_password(password, user.password_hash if user else None)
    if user is None or not ok or user.disabled:
        raise ApiError(401, "incorrect username or password", {"WWW-Authenticate": "Bearer"})
    token = issue_token(state.jwt, user.username, user.role, state.clock().timestamp())
    return TokenOut(access_token=token, expires_in=state.jwt.ttl_s)


@router.get("/me", response_model=MeOut, responses={401: {"description": "Not signed in"}})
def me(user: CurrentUser) -> MeOut:
    """The signed-in person."""
    return MeOut(username=user.username, role=user.role.value)
