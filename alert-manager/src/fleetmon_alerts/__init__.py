"""fleetmon_alerts: the alert worker (rule evaluation, durable state, notification channels)."""

__version__ = "1.0.0"
