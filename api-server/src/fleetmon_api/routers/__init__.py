"""Explicit router registry: every API router is listed here, never discovered."""

from __future__ import annotations

from fastapi import APIRouter

from fleetmon_api.routers import (
    alerts,
    auth,
    channel_tests,
    health,
    hosts,
    ingest,
    metrics,
    rule_preview,
    silence_expire,
    tokens,
    ui,
    ui_config,
)

# Order matters only for the OpenAPI page; add a module's `router` here when it exists.
ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    ingest.router,
    hosts.router,
    tokens.router,
    metrics.router,
    # Before alerts.router: `POST /rules/preview` is matched before any `/rules/{id}` route.
    rule_preview.router,
    alerts.router,
    channel_tests.router,
    silence_expire.router,
    ui_config.router,
    ui.router,
]
