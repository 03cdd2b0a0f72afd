"""Expire a silence now, keeping it as a record (DELETE removes it altogether)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from fleetmon_api.deps import AdminUser, DbSession, State
from fleetmon_api.routers.alerts import Id, SilenceOut, _silence_out
from fleetmon_db.models import Silence

router = APIRouter(prefix="/api/v1/alerts/silences", tags=["alerts"])


@router.post(
    "/{silence_id}/expire",
    response_model=SilenceOut,
    responses={404: {"description": "No such silence"}},
)
def expire_silence(silence_id: Id, state: State, db: DbSession, _admin: AdminUser) -> SilenceOut:
    """End a silence now; matching firing alerts are notified at the next evaluation."""
    s = db.get(Silence, silence_id)
    if s is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such silence")
    now = state.clock()
    if s.ends_at > now:
        s.ends_at = max(now, s.starts_at)
        db.commit()
    return _silence_out(s, now)
