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


def test_0004_adds_the_new_default_rules_where_defaults_were_installed(tmp_path: Path) -> None:
    from sqlalchemy import select

    from fleetmon_alerts import defaults
    from fleetmon_db.db import make_sessionmaker
    from fleetmon_db.models import AlertRule

    def names(url: str) -> list[str]:
        engine = make_engine(url)
        try:
            with make_sessionmaker(engine)() as s:
                return sorted(s.scalars(select(AlertRule.name).where(AlertRule.builtin)))
        finally:
            engine.dispose()

    # An installation from before 0004, its defaults installed: it gets the two new rules.
    old = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(old), "0001")
    engine = make_engine(old)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO alert_rules (name, kind, metric, tags, aggregate, window_s, comparison,"
            " threshold, for_s, keep_firing_for_s, severity, scope, labels, annotations,"
            " channels, enabled, builtin, created_at, updated_at) VALUES ('Host down',"
            " 'host_down', '', '{}', 'avg', 120, '>=', 120, 0, 0, 'critical', '{}', '{}', '{}',"
            " '[]', 1, 1, '2026-01-01', '2026-01-01')"
        )
    engine.dispose()
    upgrade(old)
    assert names(old) == ["Host clock off", "Host down", "Host losing data"]

    # A fresh database: the migration adds nothing, the defaults add everything once.
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(fresh)
    assert names(fresh) == []
    engine = make_engine(fresh)
    try:
        with make_sessionmaker(engine)() as s:
            defaults.install(s, embedded=False)
    finally:
        engine.dispose()
    assert names(fresh) == sorted(r["name"] for r in defaults.DEFAULT_RULES)
