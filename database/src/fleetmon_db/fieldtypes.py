"""Field types as a contract: each field of a measurement has one value type for every host.

InfluxDB fixes a field's type per shard with the first value written, and refuses a value
of another type for the rest of the shard, whoever sends it; so a host that writes a string
where others write floats breaks their writes. The server therefore decides each field's
type once: the agent's declared fields in code (fleetmon_db.metric_schema), every other
field from the first write accepted, kept in the `field_types` table, whose primary key
decides when two processes learn different types for one new field at the same time.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine, Executable, select, tuple_

from fleetmon_db import metric_schema
from fleetmon_db.models import FieldType

# Python value type -> its name, in InfluxDB's words (SHOW FIELD KEYS says the same).
TYPE_NAMES: Mapping[type, str] = {float: "float", int: "integer", bool: "boolean", str: "string"}
TYPES_BY_NAME: Mapping[str, type] = {name: t for t, name in TYPE_NAMES.items()}

FieldKey = tuple[str, str]  # (measurement, field)


def declared(measurement: str, field: str) -> type | None:
    """The type of one of the agent's own fields, declared by its collector; else None."""
    return metric_schema.expected_type(measurement, field)


def claim(engine: Engine, proposed: Mapping[FieldKey, type]) -> dict[FieldKey, type]:
    """Record `proposed` types for fields that have none yet; return every field's type.

    A field that already has a type keeps it (the insert does nothing), so the answer may
    differ from the proposal: that difference is the conflict the caller reports.
    """
    if not proposed:
        return {}
    rows = [{"measurement": m, "field": f, "type": TYPE_NAMES[t]} for (m, f), t in proposed.items()]
    dialect = engine.dialect.name
    ins: Executable
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        ins = pg_insert(FieldType).on_conflict_do_nothing()
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        ins = sqlite_insert(FieldType).on_conflict_do_nothing()
    else:  # pragma: no cover - the metadata database is PostgreSQL or SQLite
        raise ValueError(f"unsupported metadata database {dialect!r}")
    keys = list(proposed)
    found: dict[FieldKey, type] = {}
    with engine.begin() as conn:
        conn.execute(ins, rows)
        # Chunks keep the bound parameters under SQLite's limit.
        for i in range(0, len(keys), 400):
            chunk = keys[i : i + 400]
            stmt = select(FieldType.measurement, FieldType.field, FieldType.type).where(
                tuple_(FieldType.measurement, FieldType.field).in_(chunk)
            )
            for m, f, name in conn.execute(stmt):
                found[(m, f)] = TYPES_BY_NAME[name]
    return found
