"""Migrations build the same schema as the models, on PostgreSQL and SQLite, up and down."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from fleetmon_db.db import make_engine
from fleetmon_db.migrate import alembic_config, head_revision, is_up_to_date, upgrade
from fleetmon_db.models import Base
from tests.support.servers import throwaway_pg_database

EXPECTED_TABLES = {
    "hosts",
    "host_keys",
    "enroll_tokens",
    "users",
    "alert_rules",
    "alert_channels",
    "alert_states",
    "alert_events",
    "alert_notifications",
    "silences",
    "field_types",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str) -> object:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'meta.db'}"
    else:
        with throwaway_pg_database("fleetmon_migr") as url:
            yield url


def test_upgrade_creates_every_table_and_matches_models(db_url: str) -> None:
    assert not is_up_to_date(db_url)
    upgrade(db_url)
    assert is_up_to_date(db_url)
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_downgrade_removes_everything(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)
    command.downgrade(alembic_config(db_url), "base")
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(db_url)
    assert is_up_to_date(db_url)
    assert head_revision() is not None
