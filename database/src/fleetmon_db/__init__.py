"""fleetmon_db."""
