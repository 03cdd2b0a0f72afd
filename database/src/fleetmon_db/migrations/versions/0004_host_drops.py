"""host drops, clock offset and late-arrival windows; the default rules that watch them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The default rules added with these tables, for installations whose defaults were already
# installed (a fresh database gets them from fleetmon_alerts.defaults instead: the defaults
# are installed only where no builtin rule exists yet). Written out, as a migration is frozen.
_RULES = [
    {
        "name": "Host losing data",
        "kind": "data_loss",
        "window_s": 600,
        "comparison": ">",
        "threshold": 0.0,
        "keep_firing_for_s": 600,
        "severity": "warning",
        "annotations": {
            "summary": "$host lost data: $value points dropped by its agent or refused by "
            "the server (counts that grew in the last 10 min; see the host page)"
        },
    },
    {
        "name": "Host clock off",
        "kind": "clock_skew",
        "window_s": 600,
        "comparison": ">",
        "threshold": 30.0,
        "for_s": 120,
        "severity": "warning",
        "annotations": {"summary": "The clock of $host is off by $value s (> $threshold s)"},
    },
]


def upgrade() -> None:
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clock_offset_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("clock_source", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("clock_measured_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "host_drops",
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("reported", sa.BigInteger(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_host_drops_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("host_id", "kind", "reason", name=op.f("pk_host_drops")),
    )
    op.create_table(
        "host_late_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("arrived_first", sa.DateTime(timezone=True), nullable=False),
        sa.Column("arrived_last", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["hosts.id"],
            name=op.f("fk_host_late_windows_host_id_hosts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_late_windows")),
    )
    with op.batch_alter_table("host_late_windows", schema=None) as batch_op:
        batch_op.create_index(
            "ix_host_late_windows_host_start", ["host_id", "start_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_host_late_windows_end_at"), ["end_at"], unique=False
        )
    _add_default_rules()


def _add_default_rules() -> None:
    bind = op.get_bind()
    rules = sa.table(
        "alert_rules",
        sa.column("id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("metric", sa.String()),
        sa.column("tags", sa.JSON()),
        sa.column("aggregate", sa.String()),
        sa.column("window_s", sa.Integer()),
        sa.column("comparison", sa.String()),
        sa.column("threshold", sa.Float()),
        sa.column("for_s", sa.Integer()),
        sa.column("keep_firing_for_s", sa.Integer()),
        sa.column("severity", sa.String()),
        sa.column("scope", sa.JSON()),
        sa.column("labels", sa.JSON()),
        sa.column("annotations", sa.JSON()),
        sa.column("channels", sa.JSON()),
        sa.column("enabled", sa.Boolean()),
        sa.column("builtin", sa.Boolean()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    seeded = bind.execute(sa.select(rules.c.id).where(rules.c.builtin.is_(True)).limit(1))
    if seeded.first() is None:
        return
    existing = set(bind.execute(sa.select(rules.c.name)).scalars())
    now = datetime.now(UTC)
    rows = [
        {
            "metric": "",
            "tags": {},
            "aggregate": "avg",
            "for_s": 0,
            "keep_firing_for_s": 0,
            "scope": {},
            "labels": {},
            "channels": [],
            "enabled": True,
            "builtin": True,
            "created_at": now,
            "updated_at": now,
            **rule,
        }
        for rule in _RULES
        if rule["name"] not in existing
    ]
    if rows:
        op.bulk_insert(rules, rows)


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(
        sa.text("DELETE FROM alert_rules WHERE builtin AND kind IN ('data_loss', 'clock_skew')")
    )
    op.drop_table("host_late_windows")
    op.drop_table("host_drops")
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_column("clock_measured_at")
        batch_op.drop_column("clock_source")
        batch_op.drop_column("clock_offset_s")
