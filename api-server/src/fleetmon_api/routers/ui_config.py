"""What the web UI must know that the server decides: host status, exclusions, alert vocabulary."""

from __future__ import annotations

from typing import get_args

from fastapi import APIRouter
from pydantic import BaseModel, Field

from fleetmon_api.catalog import LOOPBACK_INTERFACES
from fleetmon_api.deps import AppSettings, ViewerUser
from fleetmon_api.routers.alerts import CHANNEL_REQUIRED, PUBLIC_CONFIG_KEYS, RuleIn, Severity

router = APIRouter(prefix="/api/v1/ui", tags=["ui"])


class HostStatusOut(BaseModel):
    """How a host's status follows from the age of its last contact."""

    stale_after_s: int = Field(description="up while last seen at most this long ago")
    down_after_s: int = Field(description="stale until this long, then down")


class ChannelKindOut(BaseModel):
    """One notification channel kind and the config keys it needs."""

    kind: str
    required: list[str]


class AlertingOut(BaseModel):
    """The vocabulary of rules and channels, in the order a person reads it."""

    severities: list[str] = Field(description="least to most severe")
    rule_kinds: list[str]
    aggregates: list[str]
    comparisons: list[str]
    channel_kinds: list[ChannelKindOut]
    public_config_keys: list[str] = Field(
        description="channel config keys shown back; every other key is write-only (secret)"
    )


class UiConfigOut(BaseModel):
    """Server settings the UI renders with instead of guessing."""

    host_status: HostStatusOut
    loopback_interfaces: list[str] = Field(
        description="interfaces left out of network rates (traffic that never leaves the host)"
    )
    alerting: AlertingOut


def _choices(field: str) -> list[str]:
    return [str(v) for v in get_args(RuleIn.model_fields[field].annotation)]


@router.get("/config", response_model=UiConfigOut)
def ui_config(settings: AppSettings, _user: ViewerUser) -> UiConfigOut:
    """Host status thresholds, loopback interfaces and the alerting vocabulary."""
    return UiConfigOut(
        host_status=HostStatusOut(
            stale_after_s=settings.stale_after_s, down_after_s=settings.down_after_s
        ),
        loopback_interfaces=sorted(LOOPBACK_INTERFACES),
        alerting=AlertingOut(
            severities=list(get_args(Severity)),
            rule_kinds=_choices("kind"),
            aggregates=_choices("aggregate"),
            comparisons=_choices("comparison"),
            channel_kinds=[
                ChannelKindOut(kind=kind, required=list(keys))
                for kind, keys in CHANNEL_REQUIRED.items()
            ],
            public_config_keys=sorted(PUBLIC_CONFIG_KEYS),
        ),
    )
