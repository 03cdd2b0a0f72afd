"""Alembic environment: runs migrations on the connection or URL fleetmon hands it."""

from __future__ import annotations

from alembic import context

from fleetmon_db.db import make_engine
from fleetmon_db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Migrate online; batch mode lets ALTER TABLE work on SQLite too."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            context.configure(
                connection=conn, target_metadata=target_metadata, render_as_batch=True
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations()
