"""The alerting vocabulary, defined once and imported by the API and the alert worker.

Severities and their order, alert and notification statuses, rule kinds, aggregates and
comparisons (`rules`); which hosts a rule covers (`scope`); notification channel kinds with
the config each needs and which keys may be shown back (`channels`).
"""

from fleetmon_db.alerting.channels import CHANNELS, ChannelSpec, channel_spec
from fleetmon_db.alerting.rules import (
    AGGREGATES,
    HEARTBEAT_LOOKBACK,
    HOST_RECORD_KINDS,
    SEVERITIES,
    AlertStatus,
    Comparison,
    NotificationStatus,
    RuleAggregate,
    RuleKind,
    Severity,
    severity_rank,
)

__all__ = [
    "AGGREGATES",
    "CHANNELS",
    "HEARTBEAT_LOOKBACK",
    "HOST_RECORD_KINDS",
    "SEVERITIES",
    "AlertStatus",
    "ChannelSpec",
    "Comparison",
    "NotificationStatus",
    "RuleAggregate",
    "RuleKind",
    "Severity",
    "channel_spec",
    "severity_rank",
]
