-- Read-only access for Grafana's alerts board (dashboard/dashboards/alerts.json): the alert
-- tables only, and of the channels and the outbox only the columns the board shows. The
-- role never sees users, host keys, enrollment tokens, channel configs (webhook URLs,
-- passwords) or notification payloads. Run after `fleetmon migrate` (docker-compose.yml's
-- grafana-grants service does); re-running it is harmless.
GRANT SELECT ON alert_rules, alert_states, alert_events TO grafana_reader;
GRANT SELECT (id, name, kind, enabled) ON alert_channels TO grafana_reader;
GRANT SELECT (id, event_id, channel_id, status, attempts, sent_at) ON alert_notifications
    TO grafana_reader;
