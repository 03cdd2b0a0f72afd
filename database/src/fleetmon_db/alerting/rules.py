"""Rule vocabulary: severities in order, alert and notification statuses, rule kinds,
aggregates, comparisons."""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable
from datetime import timedelta

from fleetmon_db.timeseries import Aggregate


class Severity(enum.StrEnum):
    """How urgent an alert is; members are declared from least to most severe."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


# Least to most severe: what every ranking (channel thresholds, sorting, the web UI) uses.
SEVERITIES: tuple[Severity, ...] = tuple(Severity)
_RANK = {s.value: i for i, s in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """Position in the order info < warning < critical (unknown counts as info)."""
    return _RANK.get(severity, 0)


class AlertStatus(enum.StrEnum):
    """Alert state machine: inactive -> pending -> firing -> resolved."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class NotificationStatus(enum.StrEnum):
    """An outbox row: pending until delivered (sent) or given up (failed)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class RuleKind(enum.StrEnum):
    """What a rule watches."""

    THRESHOLD = "threshold"
    HOST_DOWN = "host_down"
    AGENT_HEALTH = "agent_health"
    # What the server keeps per host (fleetmon_db.hostloss), not a stored metric: points
    # dropped by the agent or refused by the server, and the host's clock offset.
    DATA_LOSS = "data_loss"
    CLOCK_SKEW = "clock_skew"


# Kinds that watch the host's own record rather than a metric (their `metric` is empty).
HOST_RECORD_KINDS = frozenset({RuleKind.DATA_LOSS, RuleKind.CLOCK_SKEW})


# How far back a host_down rule looks for a host's newest point: a host silent for an hour
# reads as down for an hour instead of vanishing from view; a day bounds the query.
HEARTBEAT_LOOKBACK = timedelta(days=1)


class RuleAggregate(enum.StrEnum):
    """How a rule combines the samples of its window (authors say "avg", stores "mean")."""

    AVG = "avg"
    MEAN = "mean"
    MAX = "max"
    MIN = "min"
    LAST = "last"
    RATE = "rate"
    SUM = "sum"
    COUNT = "count"


# The store aggregate each rule aggregate reads (lookups by plain string work too).
AGGREGATES: dict[str, Aggregate] = {
    RuleAggregate.AVG: Aggregate.MEAN,
    RuleAggregate.MEAN: Aggregate.MEAN,
    RuleAggregate.MAX: Aggregate.MAX,
    RuleAggregate.MIN: Aggregate.MIN,
    RuleAggregate.LAST: Aggregate.LAST,
    RuleAggregate.RATE: Aggregate.RATE,
    RuleAggregate.SUM: Aggregate.SUM,
    RuleAggregate.COUNT: Aggregate.COUNT,
}


class Comparison(enum.StrEnum):
    """How a rule compares the observed value with its threshold."""

    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="

    @property
    def test(self) -> Callable[[float, float], bool]:
        """The function `(value, threshold) -> breached`."""
        return _OPERATORS[self]

    @property
    def low_is_worse(self) -> bool:
        """Whether lower values are the breaching ones (the worst of several is the lowest)."""
        return self in (Comparison.LT, Comparison.LE)


_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    Comparison.GT: operator.gt,
    Comparison.GE: operator.ge,
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
    Comparison.EQ: operator.eq,
    Comparison.NE: operator.ne,
}
