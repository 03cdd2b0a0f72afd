"""Two processes creating the SQL store's tables at once (`serve --workers 2` on a fresh data
directory): the one whose CREATE loses the race still starts."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, inspect

from fleetmon_db.timeseries.sql.database import Database


def _db(url: str) -> Database:
    return Database(url, table_prefix="ts_", pool_size=1, echo=False)


def _race(ours: Database, theirs: Database, times: int) -> None:
    """Before each of our first `times` CREATEs of the first table, the other process
    creates every table: our check said missing, our CREATE finds it there."""
    first = next(iter(ours.tables.metadata.sorted_tables))
    left = [times]

    @event.listens_for(first, "before_create")
    def other_process_wins(*_: object, **__: object) -> None:
        if left[0] > 0:
            left[0] -= 1
            theirs.tables.metadata.create_all(theirs.engine)

    # The other process's own tables are separate objects: its hook does not fire.


def test_a_create_that_loses_the_race_looks_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    ours, theirs = _db(url), _db(url)
    try:
        _race(ours, theirs, times=1)
        ours.create_tables()
        names = set(inspect(ours.engine).get_table_names())
        assert {t.name for t in ours.tables.metadata.sorted_tables} <= names
    finally:
        ours.close()
        theirs.close()
