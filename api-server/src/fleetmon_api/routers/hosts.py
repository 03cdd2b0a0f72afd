"""Hosts: enrollment, inventory with status, deletion, key rotation and revocation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from fleetmon_api import completeness, services
from fleetmon_api.deps import AdminUser, DbSession, State, ViewerUser, limit_by_ip
from fleetmon_api.errors import ApiError
from fleetmon_api.latefill import stored_windows
from fleetmon_api.losses import Clock, stored_drops
from fleetmon_api.state import AppState
from fleetmon_api.timeparse import parse_duration
from fleetmon_db.models import Host, HostDrop
from fleetmon_db.timeseries import NS, Aggregate, RangeQuery, Selector

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


class DropOut(BaseModel):
    """Data of the host that was not stored, for one kind and reason."""

    kind: str = Field(
        description="agent: points its agent dropped (the agent's reason); refused: points "
        "this server refused (too_old, in_future, invalid, store_dropped, too_large); "
        "quarantine: spool files its agent set aside (reason `files`)"
    )
    reason: str
    count: int = Field(description="points (files for quarantine) since first_at")
    first_at: datetime
    last_at: datetime = Field(description="when the count last grew")


class ClockOut(BaseModel):
    """The host's clock offset: the server's clock minus the host's."""

    offset_s: float
    source: str = Field(
        description="agent: measured by the agent against X-Fleetmon-Time (its timestamps are "
        "corrected by it); arrival: arrival time minus the newest point's time (line "
        "protocol senders; includes the time points waited to be sent)"
    )
    measured_at: datetime


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
    clock: ClockOut | None = Field(description="None until the host's clock was measured")
    drops: list[DropOut] = Field(description="what was not stored, by kind and reason")


class KeyOut(BaseModel):
    """A new host key (shown once)."""

    host: str
    api_key: str
    previous_keys_expire_at: datetime


def host_view(
    state: AppState, host: Host, now: datetime, keys: int, drops: Sequence[HostDrop]
) -> HostOut:
    """A host merged with this process's not yet flushed last-seen, loss and clock data."""
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
        clock=_clock_out(state.losses.clock(host)),
        drops=[DropOut(**asdict(d)) for d in state.losses.drops(host.id, drops)],
    )


def _clock_out(clock: Clock | None) -> ClockOut | None:
    if clock is None:
        return None
    return ClockOut(
        offset_s=round(clock.offset_s, 3), source=clock.source, measured_at=clock.measured_at
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
    drops = stored_drops(db)
    return [host_view(state, h, now, keys.get(h.id, 0), drops.get(h.id, [])) for h in hosts]


@router.get("/{host}", response_model=HostOut, responses={404: {"description": "No such host"}})
def get_host(host: HostName, state: State, db: DbSession, _user: ViewerUser) -> HostOut:
    """One host."""
    now = state.clock()
    row = services.get_host(db, host)
    keys = services.active_key_counts(db, now).get(row.id, 0)
    return host_view(state, row, now, keys, stored_drops(db, [row.id]).get(row.id, []))


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
        state.losses.forget(host_id)
        state.late.forget(host_id)
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


class GapOut(BaseModel):
    """A stretch without any sample of the reference series."""

    start: datetime
    end: datetime
    missing: int = Field(description="expected samples in it")


class LateFillOut(BaseModel):
    """A stretch whose samples arrived late: replayed from the agent's spool."""

    start: datetime
    end: datetime
    points: int = Field(description="late points of the host in it (every measurement)")
    arrived_first: datetime
    arrived_last: datetime


class CompletenessOut(BaseModel):
    """The share of expected samples present over a window, its gaps and late fills."""

    host: str
    start: datetime
    end: datetime
    reference: str = Field(description="the series counted, measurement.field{tags}")
    interval_s: float | None = Field(
        description="collection interval: as given, else estimated from the data"
    )
    expected: int
    present: int
    ratio: float | None = Field(description="present / expected, 0..1; None without data")
    gaps: list[GapOut]
    filled_late: list[LateFillOut]


@router.get(
    "/{host}/completeness",
    response_model=CompletenessOut,
    responses={404: {"description": "No such host"}, 422: {"description": "Bad range"}},
)
def host_completeness(
    host: HostName,
    state: State,
    db: DbSession,
    _user: ViewerUser,
    range_: Annotated[
        str, Query(alias="range", max_length=12, description="30m, 6h, 24h (at most raw retention)")
    ] = "24h",
    interval: Annotated[
        float | None, Query(gt=0, le=3600, description="collection interval in s (else estimated)")
    ] = None,
) -> CompletenessOut:
    """How complete the host's data is over the last `range`, from its first contact on."""
    row = services.get_host(db, host)
    span_s = parse_duration(range_, "range")
    raw_s = state.store.tiers[0].retention_s
    if span_s > raw_s:
        raise ApiError(422, f"range: at most {raw_s}s, as long as raw points are kept")
    step_ns = completeness.STEP_S * NS
    now_ns = state.now_ns()
    end_ns = now_ns - now_ns % step_ns  # the current minute is not over yet
    start_ns = end_ns - span_s * NS
    seen = state.presence.get(row.id)
    first = row.first_seen or (seen.last_seen if seen else None)
    first_ns = int(first.timestamp() * NS) if first is not None else None
    query = RangeQuery(
        Selector(
            completeness.REFERENCE_MEASUREMENT,
            completeness.REFERENCE_FIELD,
            hosts=[row.name],
            tags=completeness.REFERENCE_TAGS,
        ),
        start_ns,
        end_ns,
        completeness.STEP_S,
        Aggregate.COUNT,
    )
    series = state.store.query_range(query, now_ns)
    start_at = datetime.fromtimestamp(start_ns / NS, UTC)
    end_at = datetime.fromtimestamp(end_ns / NS, UTC)
    late = stored_windows(db, row.id, start_at, end_at) + state.late.pending(row.id)
    got = completeness.measure(series, start_ns, end_ns, late, interval, since_ns=first_ns)
    tags = ",".join(f"{k}={v}" for k, v in completeness.REFERENCE_TAGS.items())
    return CompletenessOut(
        host=row.name,
        start=got.start,
        end=got.end,
        reference=f"{completeness.REFERENCE_MEASUREMENT}.{completeness.REFERENCE_FIELD}{{{tags}}}",
        interval_s=got.interval_s,
        expected=got.expected,
        present=got.present,
        ratio=got.ratio,
        gaps=[GapOut(**asdict(g)) for g in got.gaps],
        filled_late=[LateFillOut(**asdict(f)) for f in got.filled_late],
    )
