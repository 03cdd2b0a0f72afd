"""Alerts management under /api/v1/alerts, one router module per resource.

`rules`, `preview` (a rule tried against current data), `channels` (secrets write-only),
`channel_tests` (a sample notification through the worker, and outbox rows),
`notification_preview` (what a channel would send, rendered by the worker's code), `silences`,
and `events` (active alerts and the history of transitions); `common` holds what they
share. The vocabulary (severities, rule
kinds, aggregates, comparisons, channel kinds) is fleetmon_db.alerting's.
"""
