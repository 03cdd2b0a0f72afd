"""What the alerts routers share: the path prefix, id and text types, commit and lookups."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleetmon_db.models import AlertRule

PREFIX = "/api/v1/alerts"

# Ids are 32-bit INTEGER columns on PostgreSQL and SQLite: a larger one is a 422, not a
# database overflow (500).
MAX_ID = 2**31 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Name = Annotated[str, Field(min_length=1, max_length=128)]
Short = Annotated[str, Field(max_length=128)]
Text = Annotated[str, Field(max_length=2000)]
WEEK = 7 * 86400


def make_router() -> APIRouter:
    """A router for one alerts resource."""
    return APIRouter(prefix=PREFIX, tags=["alerts"])


def now() -> datetime:
    """Wall-clock now, UTC-aware."""
    return datetime.now(UTC)


def commit(db: Session, what: str) -> None:
    """Commit; 409 naming `what` when a unique name is taken."""
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, f"{what} with that name exists") from None


def find_rule(db: Session, rule_id: int) -> AlertRule:
    """The rule, or 404."""
    rule = db.get(AlertRule, rule_id)
    if rule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such rule")
    return rule
