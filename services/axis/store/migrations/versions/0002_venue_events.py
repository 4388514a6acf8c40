"""Venue events: each worker's circuit-breaker transitions and failover outcomes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 16:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from axis.store.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "venue_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("strategy", sa.String(length=200), nullable=False),
        sa.Column("venue", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=64), nullable=False),
        sa.Column("to_state", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.String(length=24), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venue_events")),
    )
    with op.batch_alter_table("venue_events", schema=None) as batch_op:
        batch_op.create_index("ix_venue_events_strategy_time", ["strategy", "time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("venue_events", schema=None) as batch_op:
        batch_op.drop_index("ix_venue_events_strategy_time")
    op.drop_table("venue_events")
