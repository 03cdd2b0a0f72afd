"""What the web UI must know that the server decides: host status, exclusions, alert vocabulary."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from fleetmon_api.catalog import LOOPBACK_INTERFACES
from fleetmon_api.deps import AppSettings, ViewerUser
from fleetmon_db.alerting import (
    CHANNELS,
    SEVERITIES,
    Comparison,
    RuleAggregate,
    RuleKind,
)

router = APIRouter(prefix="/api/v1/ui", tags=["ui"])


class HostStatusOut(BaseModel):
    """How a host's status follows from the age of its last contact."""

    stale_after_s: int = Field(description="up while last seen at most this long ago")
    down_after_s: int = Field(description="stale until this long, then down")


class ChannelKindOut(BaseModel):
    """One notification channel kind, the config keys it needs and those shown back."""

    kind: str
    doc: str
    required: list[str]
    public: list[str] = Field(
        description="config keys shown back; every other key is write-only (secret)"
    )


class AlertingOut(BaseModel):
    """The vocabulary of rules and channels, in the order a person reads it."""

    severities: list[str] = Field(description="least to most severe")
    rule_kinds: list[str]
    aggregates: list[str]
    comparisons: list[str]
    channel_kinds: list[ChannelKindOut]


class UiConfigOut(BaseModel):
    """Server settings the UI renders with instead of guessing."""

    host_status: HostStatusOut
    loopback_interfaces: list[str] = Field(
        description="interfaces left out of network rates (traffic that never leaves the host)"
    )
    alerting: AlertingOut


@router.get("/config", response_model=UiConfigOut)
def ui_config(settings: AppSettings, _user: ViewerUser) -> UiConfigOut:
    """Host status thresholds, loopback interfaces and the alerting vocabulary."""
    return UiConfigOut(
        host_status=HostStatusOut(
            stale_after_s=settings.stale_after_s, down_after_s=settings.down_after_s
        ),
        loopback_interfaces=sorted(LOOPBACK_INTERFACES),
        alerting=AlertingOut(
            severities=[s.value for s in SEVERITIES],
            rule_kinds=[k.value for k in RuleKind],
            aggregates=[a.value for a in RuleAggregate],
            comparisons=[c.value for c in Comparison],
            channel_kinds=[
                ChannelKindOut(
                    kind=spec.kind,
                    doc=spec.doc,
                    required=list(spec.required),
                    public=list(spec.public),
                )
                for spec in CHANNELS.values()
            ],
        ),
    )
