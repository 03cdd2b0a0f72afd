"""Alert rules: list, read, create, replace, delete."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from fastapi import HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetmon_api.deps import AdminUser, DbSession, ViewerUser
from fleetmon_api.routers.alerts.common import (
    WEEK,
    Id,
    Name,
    Short,
    Text,
    commit,
    find_rule,
    make_router,
    now,
)
from fleetmon_db.alerting import (
    HOST_RECORD_KINDS,
    Comparison,
    RuleAggregate,
    RuleKind,
    Severity,
)
from fleetmon_db.metric import split_metric
from fleetmon_db.models import AlertChannel, AlertRule

router = make_router()

AGENT_MEASUREMENT = "fleetmon_agent"


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
    kind: RuleKind = RuleKind.THRESHOLD
    metric: str = Field(
        "",
        max_length=256,
        description="measurement.field; empty for host_down (optional), data_loss and clock_skew",
    )
    tags: dict[Short, Short] = Field(default_factory=dict, max_length=16)
    aggregate: RuleAggregate = RuleAggregate.AVG
    window_s: int = Field(60, ge=1, le=WEEK)
    comparison: Comparison = Comparison.GT
    threshold: float = 0.0
    for_s: int = Field(0, ge=0, le=WEEK)
    keep_firing_for_s: int = Field(0, ge=0, le=WEEK)
    severity: Severity = Severity.WARNING
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
        if self.kind == RuleKind.HOST_DOWN and not self.metric:
            return self  # host_down may watch heartbeats only
        if self.kind in HOST_RECORD_KINDS:
            if self.metric:
                raise ValueError(f"{self.kind} rules watch the host's record: metric must be empty")
            return self
        measurement, _ = split_metric(self.metric)  # ValueError: a 422 naming the metric
        if self.kind == RuleKind.AGENT_HEALTH and measurement != AGENT_MEASUREMENT:
            raise ValueError(f"agent_health rules watch the '{AGENT_MEASUREMENT}' measurement")
        return self


class RuleOut(RuleIn):
    """A stored rule."""

    model_config = ConfigDict(extra="ignore")

    id: int
    builtin: bool
    created_at: datetime
    updated_at: datetime


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
    # JSON mode: enum members become their plain string values for the columns.
    for key, value in body.model_dump(mode="json").items():
        setattr(rule, key, value)


@router.get("/rules", response_model=list[RuleOut])
def list_rules(db: DbSession, _user: ViewerUser) -> list[RuleOut]:
    """Every rule."""
    return [_rule_out(r) for r in db.scalars(select(AlertRule).order_by(AlertRule.id))]


@router.get("/rules/{rule_id}", response_model=RuleOut)
def get_rule(rule_id: Id, db: DbSession, _user: ViewerUser) -> RuleOut:
    """One rule."""
    return _rule_out(find_rule(db, rule_id))


@router.post("/rules", response_model=RuleOut, status_code=201)
def create_rule(body: RuleIn, db: DbSession, _admin: AdminUser) -> RuleOut:
    """Add a rule; the worker picks it up at its next evaluation."""
    _check_channels(db, body.channels)
    rule = AlertRule(builtin=False)
    _apply_rule(rule, body)
    db.add(rule)
    commit(db, "a rule")
    return _rule_out(rule)


@router.put("/rules/{rule_id}", response_model=RuleOut)
def replace_rule(rule_id: Id, body: RuleIn, db: DbSession, _admin: AdminUser) -> RuleOut:
    """Replace a rule (builtin rules too: they are defaults, not fixtures)."""
    rule = find_rule(db, rule_id)
    _check_channels(db, body.channels)
    _apply_rule(rule, body)
    rule.updated_at = now()
    commit(db, "a rule")
    return _rule_out(rule)


@router.delete("/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: Id, db: DbSession, _admin: AdminUser) -> Response:
    """Delete a rule with its alert states (its history stays)."""
    db.delete(find_rule(db, rule_id))
    db.commit()
    return Response(status_code=204)
