"""Notification channels: list, create, replace, delete; config secrets are write-only.

Which kinds exist, what each needs and which keys may be shown back all come from
fleetmon_db.alerting.CHANNELS, the registry the worker builds its channels from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetmon_api.deps import AdminUser, DbSession
from fleetmon_api.routers.alerts.common import WEEK, Id, Name, Short, commit, make_router
from fleetmon_db.alerting import CHANNELS, Severity, channel_spec
from fleetmon_db.models import AlertChannel

router = make_router()


def _known_kind(kind: str) -> str:
    channel_spec(kind)  # ValueError listing the known kinds: a 422
    return kind


def _kinds_doc() -> str:
    lines = ["Channel kind; `config` keys per kind (others are kept write-only too):"]
    for spec in CHANNELS.values():
        keys = [f"{k} (required)" for k in spec.required]
        keys += [f"{k} (shown back)" for k in spec.public if k not in spec.required]
        lines.append(f"- `{spec.kind}`: {spec.doc} Keys: {', '.join(keys) or 'none'}.")
    return "\n".join(lines)


ChannelKind = Annotated[
    str,
    AfterValidator(_known_kind),
    Field(description=_kinds_doc(), json_schema_extra={"enum": list(CHANNELS)}),
]


class ChannelIn(BaseModel):
    """A channel as written by an admin; `config` may hold secrets and is never read back."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: ChannelKind
    config: dict[Short, Any] = Field(default_factory=dict, max_length=32)
    min_severity: Severity = Severity.INFO
    send_resolved: bool = True
    repeat_interval_s: int = Field(4 * 3600, ge=60, le=WEEK)
    enabled: bool = True


class ChannelOut(BaseModel):
    """A stored channel: secret config values are named, never shown."""

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    secret_keys: list[str]
    min_severity: str
    send_resolved: bool
    repeat_interval_s: int
    enabled: bool
    created_at: datetime


def _channel_out(ch: AlertChannel) -> ChannelOut:
    config = ch.config or {}
    spec = CHANNELS.get(ch.kind)
    return ChannelOut(
        id=ch.id,
        name=ch.name,
        kind=ch.kind,
        # A kind no longer known shows nothing: every key may be a secret.
        config=spec.public_config(config) if spec else {},
        secret_keys=spec.secret_keys(config) if spec else sorted(config),
        min_severity=ch.min_severity,
        send_resolved=ch.send_resolved,
        repeat_interval_s=ch.repeat_interval_s,
        enabled=ch.enabled,
        created_at=ch.created_at,
    )


def _check_config(kind: str, config: dict[str, Any]) -> None:
    try:
        channel_spec(kind).check(config)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def _channel(db: Session, channel_id: int) -> AlertChannel:
    ch = db.get(AlertChannel, channel_id)
    if ch is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such channel")
    return ch


@router.get("/channels", response_model=list[ChannelOut])
def list_channels(db: DbSession, _admin: AdminUser) -> list[ChannelOut]:
    """Every channel, secrets named but never shown."""
    return [_channel_out(c) for c in db.scalars(select(AlertChannel).order_by(AlertChannel.id))]


@router.post("/channels", response_model=ChannelOut, status_code=201)
def create_channel(body: ChannelIn, db: DbSession, _admin: AdminUser) -> ChannelOut:
    """Add a channel."""
    _check_config(body.kind, body.config)
    ch = AlertChannel(**body.model_dump(mode="json"))
    db.add(ch)
    commit(db, "a channel")
    return _channel_out(ch)


@router.put("/channels/{channel_id}", response_model=ChannelOut)
def replace_channel(
    channel_id: Id, body: ChannelIn, db: DbSession, _admin: AdminUser
) -> ChannelOut:
    """Replace a channel; config keys left out keep their stored (secret) values, unless the
    destination (URL, SMTP host, port or security) changes: then stored credentials
    (webhook secret, token, password) are dropped unless given again."""
    ch = _channel(db, channel_id)
    same_kind = body.kind == ch.kind
    config = (
        channel_spec(body.kind).replace(ch.config or {}, body.config) if same_kind else body.config
    )
    _check_config(body.kind, config)
    for key, value in body.model_dump(mode="json", exclude={"config"}).items():
        setattr(ch, key, value)
    ch.config = config
    commit(db, "a channel")
    return _channel_out(ch)


@router.delete("/channels/{channel_id}", status_code=204)
def delete_channel(channel_id: Id, db: DbSession, _admin: AdminUser) -> Response:
    """Delete a channel (its queued notifications go with it)."""
    db.delete(_channel(db, channel_id))
    db.commit()
    return Response(status_code=204)
