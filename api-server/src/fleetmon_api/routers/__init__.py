"""Explicit router registry: every API router is listed here, never discovered."""

from __future__ import annotations

from fastapi import APIRouter

from fleetmon_api.routers import alerts, auth, health, hosts, ingest, metrics, tokens, ui

# Order matters only for the OpenAPI page; add a module's `router` here when it exists.
ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    ingest.router,
    hosts.router,
    tokens.router,
    metrics.router,
    alerts.router,
    ui.router,
]
