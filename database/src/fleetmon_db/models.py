"""Metadata models: hosts, keys, enrollment tokens, users and everything alerts keep."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from fleetmon_db.alerting.rules import (
    AlertStatus,
    NotificationStatus,
    RuleAggregate,
    RuleKind,
    Severity,
)
from fleetmon_db.types import UTCDateTime, utcnow

# Deterministic constraint names keep Alembic migrations identical on PostgreSQL and SQLite.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONDict = dict[str, Any]
JSONList = list[Any]


class Base(DeclarativeBase):
    """Declarative base with the shared naming convention."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), JSONDict: JSON(), JSONList: JSON()}


class Role(enum.StrEnum):
    """What a person may do: admins change things, viewers read."""

    ADMIN = "admin"
    VIEWER = "viewer"


class Host(Base):
    """A monitored server; its identity is fixed by its API key, never by request bodies."""

    __tablename__ = "hosts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    labels: Mapped[JSONDict] = mapped_column(default=dict)
    agent_version: Mapped[str | None] = mapped_column(String(64))
    first_seen: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The host's clock error (server clock minus the host's), when last measured, and how
    # (hostloss.ClockSource). Kept like last_seen: in memory, flushed periodically.
    clock_offset_s: Mapped[float | None] = mapped_column(Float)
    clock_source: Mapped[str | None] = mapped_column(String(16))
    clock_measured_at: Mapped[datetime | None]

    keys: Mapped[list[HostKey]] = relationship(
        back_populates="host", cascade="all, delete-orphan", passive_deletes=True
    )
    drops: Mapped[list[HostDrop]] = relationship(
        back_populates="host", cascade="all, delete-orphan", passive_deletes=True
    )


class HostDrop(Base):
    """Data of one host that was not stored, for one kind and reason (hostloss.DropKind).

    `count` is what the server knows in total; for counters the agent reports (cumulative
    since its spool was created), `reported` is the agent's last value, so a smaller one
    (the agent's state was reset) counts as a fresh start instead of a negative drop.
    """

    __tablename__ = "host_drops"

    host_id: Mapped[int] = mapped_column(
        ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    reported: Mapped[int | None] = mapped_column(BigInteger)
    # When `reported` arrived: with several API workers, a value one of them flushes late
    # may be older than the one already stored, and must not read as a reset.
    reported_at: Mapped[datetime | None]
    first_at: Mapped[datetime]
    last_at: Mapped[datetime] = mapped_column(doc="when the count last grew")

    host: Mapped[Host] = relationship(back_populates="drops")


class HostLateWindow(Base):
    """Points of a host stamped within [start_at, end_at] that arrived late (a spool replay)."""

    __tablename__ = "host_late_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime] = mapped_column(index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    arrived_first: Mapped[datetime]
    arrived_last: Mapped[datetime]

    __table_args__ = (Index("ix_host_late_windows_host_start", "host_id", "start_at"),)


class HostKey(Base):
    """A host API key, stored as a hash; looked up by its public prefix."""

    __tablename__ = "host_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set on rotation: the old key keeps working until then (overlap), so agents can switch.
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    host: Mapped[Host] = relationship(back_populates="keys")


class EnrollToken(Base):
    """A token that lets a new host enroll and obtain its API key."""

    __tablename__ = "enroll_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(200), default="")
    labels: Mapped[JSONDict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    max_uses: Mapped[int | None]
    use_count: Mapped[int] = mapped_column(default=0)
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(64))


class User(Base):
    """A person who reads dashboards (viewer) or also changes configuration (admin)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.VIEWER.value)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertRule(Base):
    """A rule the alert worker evaluates for every host in scope."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default=RuleKind.THRESHOLD.value)
    # "measurement.field", e.g. "cpu.usage_active"; empty for host_down.
    metric: Mapped[str] = mapped_column(String(256), default="")
    tags: Mapped[JSONDict] = mapped_column(default=dict)
    aggregate: Mapped[str] = mapped_column(String(16), default=RuleAggregate.MEAN.value)
    window_s: Mapped[int] = mapped_column(default=60)
    comparison: Mapped[str] = mapped_column(String(4), default=">")
    threshold: Mapped[float] = mapped_column(Float, default=0.0)
    for_s: Mapped[int] = mapped_column(default=0)
    keep_firing_for_s: Mapped[int] = mapped_column(default=0)
    severity: Mapped[str] = mapped_column(String(16), default=Severity.WARNING.value)
    # {"hosts": [...]} and/or {"labels": {...}}; empty means every host.
    scope: Mapped[JSONDict] = mapped_column(default=dict)
    labels: Mapped[JSONDict] = mapped_column(default=dict)
    annotations: Mapped[JSONDict] = mapped_column(default=dict)
    # Names of channels to notify; empty means every enabled channel.
    channels: Mapped[JSONList] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlertChannel(Base):
    """Where notifications go; `config` holds secrets (webhook URLs, passwords): write-only."""

    __tablename__ = "alert_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    config: Mapped[JSONDict] = mapped_column(default=dict)
    min_severity: Mapped[str] = mapped_column(String(16), default=Severity.INFO.value)
    send_resolved: Mapped[bool] = mapped_column(Boolean, default=True)
    repeat_interval_s: Mapped[int] = mapped_column(default=4 * 3600)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertState(Base):
    """The durable state of one rule for one series (host + tags): survives worker restarts."""

    __tablename__ = "alert_states"
    __table_args__ = (UniqueConstraint("rule_id", "fingerprint", name="uq_alert_states_rule_fp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(253), index=True)
    labels: Mapped[JSONDict] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.INACTIVE.value)
    value: Mapped[float | None] = mapped_column(Float)
    pending_since: Mapped[datetime | None]
    firing_since: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    keep_firing_until: Mapped[datetime | None]
    last_eval_at: Mapped[datetime | None]
    last_notified_at: Mapped[datetime | None]
    annotations: Mapped[JSONDict] = mapped_column(default=dict)


class AlertEvent(Base):
    """One state transition, kept as history."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="SET NULL"), index=True
    )
    rule_name: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(253), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[JSONDict] = mapped_column(default=dict)


class AlertNotification(Base):
    """Outbox row: one notification of one event to one channel, delivered at most once."""

    __tablename__ = "alert_notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "channel_id", name="uq_alert_notifications_event_channel"),
        Index("ix_alert_notifications_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("alert_channels.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=NotificationStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[JSONDict] = mapped_column(default=dict)


class NotificationPreview(Base):
    """A request to render what a channel would send, answered by the alert worker.

    The API may not run the worker's channel code (the dependency direction is
    api -> db <- alerts), so it records the request here and waits for the leading worker
    to store the rendered message in `result`; the API deletes the row once read, and the
    worker deletes rows nobody came back for.
    """

    __tablename__ = "notification_previews"
    __table_args__ = (Index("ix_notification_previews_requested_at", "requested_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("alert_channels.id", ondelete="CASCADE"))
    # Both set: the stored alert of this rule on this host; both None: a sample alert.
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    host: Mapped[str | None] = mapped_column(String(253))
    # Which notification: firing or resolved (AlertStatus values).
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    # The worker's answer: title, body, format, would_send, why_not; or error (no such alert).
    result: Mapped[JSONDict | None] = mapped_column(JSON)


class Silence(Base):
    """Mutes notifications matching a rule, a host and/or labels between two instants."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    host: Mapped[str | None] = mapped_column(String(253))
    labels: Mapped[JSONDict] = mapped_column(default=dict)
    starts_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime]
    comment: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FieldType(Base):
    """The one value type of a field of a measurement, for every host (learnt from the first
    accepted write; the agent's own fields are declared in code, fleetmon_db.metric_schema).

    The primary key is what decides a race: two processes learning different types for one
    new field both insert, and only the first insert stands (fleetmon_db.fieldtypes.claim).
    """

    __tablename__ = "field_types"

    measurement: Mapped[str] = mapped_column(String(255), primary_key=True)
    field: Mapped[str] = mapped_column(String(255), primary_key=True)
    # InfluxDB's names: float, integer, boolean, string.
    type: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
