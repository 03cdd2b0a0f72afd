"""fleetmon_api."""
