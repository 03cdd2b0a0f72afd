"""Alerts management: rules, channels (secrets write-only), silences, active alerts, history."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleetmon_api.deps import AdminUser, DbSession, ViewerUser
from fleetmon_api.timeparse import UtcDateTime
from fleetmon_db.models import (
    AlertChannel,
    AlertEvent,
    AlertRule,
    AlertState,
    AlertStatus,
    Silence,
)

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

# Ids are 32-bit INTEGER columns on PostgreSQL and SQLite: a larger one is a 422, not a
# database overflow (500).
MAX_ID = 2**31 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Name = Annotated[str, Field(min_length=1, max_length=128)]
Short = Annotated[str, Field(max_length=128)]
Text = Annotated[str, Field(max_length=2000)]
Severity = Literal["info", "warning", "critical"]
METRIC = re.compile(r"^[A-Za-z0-9_\-]{1,128}\.[A-Za-z0-9_.\-]{1,127}$")
WEEK = 7 * 86400

# Which config keys each channel kind needs (the worker validates them again when it builds).
CHANNEL_REQUIRED: dict[str, tuple[str, ...]] = {
    "log": (),
    "slack": ("webhook_url",),
    "discord": ("webhook_url",),
    "webhook": ("url",),
    "alertmanager": ("url",),
    "email": ("host", "from", "to"),
}
# Config keys that are safe to show back; every other key (URLs, passwords, secrets) is
# write-only and only listed by name.
PUBLIC_CONFIG_KEYS = {"host", "port", "from", "to", "security", "level", "ca_file"}


class Scope(BaseModel):
    """Which hosts a rule covers: listed hosts and/or hosts with these labels (empty: all)."""

    model_config = ConfigDict(extra="forbid")

    hosts: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(
        default_factory=list, max_length=10_000
    )
    labels: dict[Short, Short] = Field(default_factory=dict, max_length=32)


class RuleIn(BaseModel):
    """A rule as written by an admin."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: Literal["threshold", "host_down", "agent_health"] = "threshold"
    metric: str = Field("", max_length=256, description="measurement.field; empty for host_down")
    tags: dict[Short, Short] = Field(default_factory=dict, max_length=16)
    aggregate: Literal["avg", "mean", "max", "min", "last", "rate", "sum", "count"] = "avg"
    window_s: int = Field(60, ge=1, le=WEEK)
    comparison: Literal[">", ">=", "<", "<=", "==", "!="] = ">"
    threshold: float = 0.0
    for_s: int = Field(0, ge=0, le=WEEK)
    keep_firing_for_s: int = Field(0, ge=0, le=WEEK)
    severity: Severity = "warning"
    scope: Scope = Field(default_factory=Scope)
    labels: dict[Short, Text] = Field(default_factory=dict, max_length=32)
    annotations: dict[Short, Text] = Field(default_factory=dict, max_length=32)
    channels: list[Name] = Field(default_factory=list, max_length=32)
    enabled: bool = True

    @field_validator("threshold")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("threshold must be a finite number")
        return v

    @model_validator(mode="after")
    def _metric_fits_kind(self) -> RuleIn:
        if self.kind == "host_down":
            if self.metric and not METRIC.match(self.metric):
                raise ValueError("metric must be 'measurement.field' (or empty for host_down)")
            return self
        if not METRIC.match(self.metric):
            raise ValueError("metric must be 'measurement.field', e.g. 'cpu.usage_idle'")
        if self.kind == "agent_health" and not self.metric.startswith("fleetmon_agent."):
            raise ValueError("agent_health rules watch the 'fleetmon_agent' measurement")
        return self


class RuleOut(RuleIn):
    """A stored rule."""

    model_config = ConfigDict(extra="ignore")

    id: int
    builtin: bool
    created_at: datetime
    updated_at: datetime


class ChannelIn(BaseModel):
    """A channel as written by an admin; `config` may hold secrets and is never read back."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: Literal["log", "slack", "discord", "webhook", "alertmanager", "email"]
    config: dict[Short, Any] = Field(default_factory=dict, max_length=32)
    min_severity: Severity = "info"
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


class ActiveAlert(BaseModel):
    """A pending or firing alert."""

    rule_id: int
    rule_name: str
    severity: str
    host: str
    status: str
    value: float | None
    pending_since: datetime | None
    firing_since: datetime | None
    labels: dict[str, Any]
    annotations: dict[str, Any]


class EventOut(BaseModel):
    """One state transition from the history."""

    id: int
    rule_id: int | None
    rule_name: str
    host: str
    severity: str
    from_status: str
    to_status: str
    value: float | None
    at: datetime
    details: dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


def _commit(db: Session, what: str) -> None:
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, f"{what} with that name exists") from None


def _rule(db: Session, rule_id: int) -> AlertRule:
    rule = db.get(AlertRule, rule_id)
    if rule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such rule")
    return rule


def _check_channels(db: Session, names: list[str]) -> None:
    if not names:
        return
    known = set(db.scalars(select(AlertChannel.name).where(AlertChannel.name.in_(names))))
    missing = sorted(set(names) - known)
    if missing:
        raise HTTPException(422, f"unknown channel(s): {', '.join(missing)}")


def _rule_out(rule: AlertRule) -> RuleOut:
    return RuleOut.model_validate(
        {c.key: getattr(rule, c.key) for c in AlertRule.__table__.columns}
    )


def _apply_rule(rule: AlertRule, body: RuleIn) -> None:
    for key, value in body.model_dump().items():
        setattr(rule, key, value)


@router.get("/rules", response_model=list[RuleOut])
def list_rules(db: DbSession, _user: ViewerUser) -> list[RuleOut]:
    """Every rule."""
    return [_rule_out(r) for r in db.scalars(select(AlertRule).order_by(AlertRule.id))]


@router.get("/rules/{rule_id}", response_model=RuleOut)
def get_rule(rule_id: Id, db: DbSession, _user: ViewerUser) -> RuleOut:
    """One rule."""
    return _rule_out(_rule(db, rule_id))


@router.post("/rules", response_model=RuleOut, status_code=201)
def create_rule(body: RuleIn, db: DbSession, _admin: AdminUser) -> RuleOut:
    """Add a rule; the worker picks it up at its next evaluation."""
    _check_channels(db, body.channels)
    rule = AlertRule(builtin=False)
    _apply_rule(rule, body)
    db.add(rule)
    _commit(db, "a rule")
    return _rule_out(rule)


@router.put("/rules/{rule_id}", response_model=RuleOut)
def replace_rule(rule_id: Id, body: RuleIn, db: DbSession, _admin: AdminUser) -> RuleOut:
    """Replace a rule (builtin rules too: they are defaults, not fixtures)."""
    rule = _rule(db, rule_id)
    _check_channels(db, body.channels)
    _apply_rule(rule, body)
    rule.updated_at = _now()
    _commit(db, "a rule")
    return _rule_out(rule)


@router.delete("/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: Id, db: DbSession, _admin: AdminUser) -> Response:
    """Delete a rule with its alert states (its history stays)."""
    db.delete(_rule(db, rule_id))
    db.commit()
    return Response(status_code=204)


def _channel_out(ch: AlertChannel) -> ChannelOut:
    config = ch.config or {}
    return ChannelOut(
        id=ch.id,
        name=ch.name,
        kind=ch.kind,
        config={k: v for k, v in config.items() if k in PUBLIC_CONFIG_KEYS},
        secret_keys=sorted(k for k in config if k not in PUBLIC_CONFIG_KEYS),
        min_severity=ch.min_severity,
        send_resolved=ch.send_resolved,
        repeat_interval_s=ch.repeat_interval_s,
        enabled=ch.enabled,
        created_at=ch.created_at,
    )


def _check_config(kind: str, config: dict[str, Any]) -> None:
    missing = [k for k in CHANNEL_REQUIRED[kind] if not config.get(k)]
    if missing:
        raise HTTPException(422, f"{kind} channel config needs: {', '.join(missing)}")
    for key in ("url", "webhook_url"):
        value = config.get(key)
        if value is not None and not (
            isinstance(value, str) and value.startswith(("http://", "https://"))
        ):
            raise HTTPException(422, f"config.{key} must be an http(s) URL")


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
    ch = AlertChannel(**body.model_dump())
    db.add(ch)
    _commit(db, "a channel")
    return _channel_out(ch)


@router.put("/channels/{channel_id}", response_model=ChannelOut)
def replace_channel(
    channel_id: Id, body: ChannelIn, db: DbSession, _admin: AdminUser
) -> ChannelOut:
    """Replace a channel; config keys left out keep their stored (secret) values."""
    ch = _channel(db, channel_id)
    config = {**(ch.config or {}), **body.config} if body.kind == ch.kind else body.config
    _check_config(body.kind, config)
    for key, value in body.model_dump(exclude={"config"}).items():
        setattr(ch, key, value)
    ch.config = config
    _commit(db, "a channel")
    return _channel_out(ch)


@router.delete("/channels/{channel_id}", status_code=204)
def delete_channel(channel_id: Id, db: DbSession, _admin: AdminUser) -> Response:
    """Delete a channel (its queued notifications go with it)."""
    db.delete(_channel(db, channel_id))
    db.commit()
    return Response(status_code=204)


def _silence_out(s: Silence, now: datetime) -> SilenceOut:
    return SilenceOut(
        id=s.id,
        rule_id=s.rule_id,
        host=s.host,
        labels=s.labels or {},
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        comment=s.comment,
        created_by=s.created_by,
        active=s.starts_at <= now < s.ends_at,
    )


@router.get("/silences", response_model=list[SilenceOut])
def list_silences(
    db: DbSession,
    _user: ViewerUser,
    include_expired: bool = False,
) -> list[SilenceOut]:
    """Current and future silences (and expired ones if asked)."""
    now = _now()
    stmt = select(Silence).order_by(Silence.starts_at)
    if not include_expired:
        stmt = stmt.where(Silence.ends_at > now)
    return [_silence_out(s, now) for s in db.scalars(stmt)]


@router.post("/silences", response_model=SilenceOut, status_code=201)
def create_silence(body: SilenceIn, db: DbSession, admin: AdminUser) -> SilenceOut:
    """Mute matching alerts from `starts_at` (default now) until `ends_at`."""
    if body.rule_id is not None:
        _rule(db, body.rule_id)
    s = Silence(
        rule_id=body.rule_id,
        host=body.host,
        labels=body.labels,
        starts_at=body.starts_at or _now(),
        ends_at=body.ends_at,
        comment=body.comment,
        created_by=admin.username,
    )
    db.add(s)
    db.commit()
    return _silence_out(s, _now())


@router.delete("/silences/{silence_id}", status_code=204)
def delete_silence(silence_id: Id, db: DbSession, _admin: AdminUser) -> Response:
    """Remove a silence; matching firing alerts are notified at the next evaluation."""
    s = db.get(Silence, silence_id)
    if s is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such silence")
    db.delete(s)
    db.commit()
    return Response(status_code=204)


@router.get("/active", response_model=list[ActiveAlert])
def active_alerts(
    db: DbSession,
    _user: ViewerUser,
    host: Annotated[str | None, Query(max_length=253)] = None,
    severity: Severity | None = None,
    state: Literal["pending", "firing"] | None = None,
) -> list[ActiveAlert]:
    """Pending and firing alerts, most severe and oldest first."""
    wanted = [state] if state else [AlertStatus.PENDING.value, AlertStatus.FIRING.value]
    stmt = (
        select(AlertState, AlertRule)
        .join(AlertRule, AlertRule.id == AlertState.rule_id)
        .where(AlertState.status.in_(wanted))
    )
    if host:
        stmt = stmt.where(AlertState.host == host)
    if severity:
        stmt = stmt.where(AlertRule.severity == severity)
    rank = {"critical": 0, "warning": 1, "info": 2}
    rows = sorted(
        [(st, rule) for st, rule in db.execute(stmt)],
        key=lambda r: (
            r[0].status != "firing",
            rank.get(r[1].severity, 3),
            r[0].firing_since or r[0].pending_since or _now(),
        ),
    )
    return [
        ActiveAlert(
            rule_id=rule.id,
            rule_name=rule.name,
            severity=rule.severity,
            host=st.host,
            status=st.status,
            value=st.value,
            pending_since=st.pending_since,
            firing_since=st.firing_since,
            labels=st.labels or {},
            annotations=st.annotations or {},
        )
        for st, rule in rows
    ]


@router.get("/history", response_model=list[EventOut])
def history(
    db: DbSession,
    _user: ViewerUser,
    rule_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    host: Annotated[str | None, Query(max_length=253)] = None,
    severity: Severity | None = None,
    to_status: Literal["inactive", "pending", "firing", "resolved"] | None = None,
    start: UtcDateTime | None = None,
    end: UtcDateTime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="page: events older than this")
    ] = None,
) -> list[EventOut]:
    """State transitions, newest first, filtered."""
    stmt = select(AlertEvent).order_by(AlertEvent.id.desc()).limit(limit)
    if rule_id is not None:
        stmt = stmt.where(AlertEvent.rule_id == rule_id)
    if host:
        stmt = stmt.where(AlertEvent.host == host)
    if severity:
        stmt = stmt.where(AlertEvent.severity == severity)
    if to_status:
        stmt = stmt.where(AlertEvent.to_status == to_status)
    if start:
        stmt = stmt.where(AlertEvent.at >= start)
    if end:
        stmt = stmt.where(AlertEvent.at < end)
    if before_id:
        stmt = stmt.where(AlertEvent.id < before_id)
    return [
        EventOut(
            id=e.id,
            rule_id=e.rule_id,
            rule_name=e.rule_name,
            host=e.host,
            severity=e.severity,
            from_status=e.from_status,
            to_status=e.to_status,
            value=e.value,
            at=e.at,
            details=e.details or {},
        )
        for e in db.scalars(stmt)
    ]
