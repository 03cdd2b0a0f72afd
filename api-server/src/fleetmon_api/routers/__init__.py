"""Explicit router registry: every API router is listed here, never discovered."""

from __future__ import annotations

from fastapi import APIRouter

from fleetmon_api.routers import auth, health, hosts, influx, ingest, metrics, tokens, ui, ui_config
from fleetmon_api.routers.alerts import (
    channel_tests,
    channels,
    events,
    notification_preview,
    preview,
    rules,
    silences,
)

# Order matters only for the OpenAPI page; add a module's `router` here when it exists.
ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    ingest.router,
    influx.router,
    hosts.router,
    tokens.router,
    metrics.router,
    # Before rules.router: `POST /rules/preview` is matched before any `/rules/{id}` route.
    preview.router,
    rules.router,
    channels.router,
    channel_tests.router,
    notification_preview.router,
    silences.router,
    events.router,
    ui_config.router,
    ui.router,
]
