"""fleetmon_alerts."""
