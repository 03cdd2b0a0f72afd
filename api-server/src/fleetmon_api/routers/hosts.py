"""Hosts: enrollment, inventory with status, deletion, key rotation and revocation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from fleetmon_api import services
from fleetmon_api.deps import AdminUser, DbSession, State, ViewerUser, limit_by_ip
from fleetmon_api.state import AppState
from fleetmon_db.models import Host

router = APIRouter(prefix="/api/v1/hosts", tags=["hosts"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such host"}}
HostName = Annotated[str, Path(min_length=1, max_length=253)]


class EnrollIn(BaseModel):
    """What an agent sends to enroll."""

    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, Field(min_length=1, max_length=200)]
    name: Annotated[str, Field(min_length=1, max_length=253)]
    labels: dict[Annotated[str, Field(max_length=128)], Annotated[str, Field(max_length=256)]] = (
        Field(default_factory=dict, max_length=64)
    )


class EnrollOut(BaseModel):
    """The new host and its API key (shown once; only its hash is stored)."""

    host_id: int
    host: str
    api_key: str


class HostOut(BaseModel):
    """One host of the inventory."""

    id: int
    name: str
    labels: dict[str, str]
    agent_version: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    status: str = Field(description="up, stale or down, from last_seen")
    active_keys: int


class KeyOut(BaseModel):
    """A new host key (shown once)."""

    host: str
    api_key: str
    previous_keys_expire_at: datetime


def host_view(state: AppState, host: Host, now: datetime, keys: int) -> HostOut:
    """A host merged with this process's not yet flushed last-seen data."""
    seen = state.presence.get(host.id)
    last_seen = host.last_seen
    version = host.agent_version
    if seen is not None and (last_seen is None or seen.last_seen > last_seen):
        last_seen = seen.last_seen
        version = seen.agent_version or version
    s = state.settings
    return HostOut(
        id=host.id,
        name=host.name,
        labels=host.labels or {},
        agent_version=version,
        first_seen=host.first_seen or (seen.last_seen if seen else None),
        last_seen=last_seen,
        status=services.host_status(last_seen, now, s.stale_after_s, s.down_after_s),
        active_keys=keys,
    )


@router.post(
    "/enroll",
    status_code=201,
    response_model=EnrollOut,
    dependencies=[limit_by_ip("enroll")],  # type: ignore[list-item]
    responses={
        401: {"description": "Invalid, expired, revoked or used-up token"},
        409: {"description": "A host with this name is already enrolled"},
        429: {"description": "Rate limited"},
    },
)
def enroll(body: EnrollIn, state: State, db: DbSession) -> EnrollOut:
    """Trade an enrollment token for a host API key (rate-limited per client IP)."""
    done = services.enroll(db, state.clock(), body.token, body.name, dict(body.labels))
    return EnrollOut(host_id=done.host_id, host=done.host, api_key=done.api_key)


@router.get("", response_model=list[HostOut])
def list_hosts(state: State, db: DbSession, _user: ViewerUser) -> list[HostOut]:
    """Every enrolled host with labels, last seen, agent version and status."""
    now = state.clock()
    keys = services.active_key_counts(db, now)
    hosts = db.scalars(select(Host).order_by(Host.name)).all()
    return [host_view(state, h, now, keys.get(h.id, 0)) for h in hosts]


@router.get("/{host}", response_model=HostOut, responses={404: {"description": "No such host"}})
def get_host(host: HostName, state: State, db: DbSession, _user: ViewerUser) -> HostOut:
    """One host."""
    now = state.clock()
    row = services.get_host(db, host)
    return host_view(state, row, now, services.active_key_counts(db, now).get(row.id, 0))


@router.delete(
    "/{host}",
    status_code=204,
    responses={
        404: {"description": "No such host"},
        409: {"description": "purge=true, but the time-series store cannot delete points"},
    },
)
async def delete_host(
    host: HostName,
    state: State,
    db: DbSession,
    _admin: AdminUser,
    purge: Annotated[bool, Query(description="also delete the host's stored points")] = False,
) -> Response:
    """Remove a host and its keys (and, with purge=true, its data)."""

    def work() -> None:
        row = services.get_host(db, host)
        # Refused before anything changes: deleting the row first would orphan the points.
        if purge and not state.store.capabilities.deletes_hosts:
            raise HTTPException(
                409,
                f"the time-series store ({state.store.name}) cannot delete a host's points "
                "(InfluxDB 3.x has no delete by predicate); delete the host without "
                "purge=true and its points expire with the retention tiers",
            )
        host_id = row.id
        db.delete(row)
        db.commit()
        state.keys.evict_host(host_id)
        state.presence.forget(host_id)
        if purge:
            state.store.delete_host(host)

    await run_in_threadpool(work)
    return Response(status_code=204)


@router.post(
    "/{host}/keys/rotate",
    status_code=201,
    response_model=KeyOut,
    responses={404: {"description": "No such host"}},
)
def rotate_key(
    host: HostName,
    state: State,
    db: DbSession,
    _admin: AdminUser,
    overlap_s: Annotated[int, Query(ge=0, le=30 * 86400)] = 86400,
) -> KeyOut:
    """Issue a new key; the old keys keep working for `overlap_s` so the agent can switch."""
    row = services.get_host(db, host)
    now = state.clock()
    key = services.rotate_key(db, row, now, overlap_s)
    if overlap_s == 0:
        state.keys.evict_host(row.id)
    return KeyOut(
        host=row.name, api_key=key, previous_keys_expire_at=now + timedelta(seconds=overlap_s)
    )


@router.post(
    "/{host}/keys/revoke", status_code=204, responses={404: {"description": "No such host"}}
)
def revoke_keys(host: HostName, state: State, db: DbSession, _admin: AdminUser) -> Response:
    """Revoke every key of a host now (the host must re-enroll or get a rotated key)."""
    row = services.get_host(db, host)
    services.revoke_keys(db, row, state.clock())
    state.keys.evict_host(row.id)
    return Response(status_code=204)
