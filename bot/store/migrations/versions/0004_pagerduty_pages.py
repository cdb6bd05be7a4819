"""pagerduty pages

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pagerduty_page",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_number", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("paged_by", sa.String(length=32), nullable=False),
        sa.Column("paged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["incident_number"], ["incident.number"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key"),
    )
    with op.batch_alter_table("pagerduty_page", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pagerduty_page_incident_number"), ["incident_number"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pagerduty_page", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pagerduty_page_incident_number"))
    op.drop_table("pagerduty_page")
