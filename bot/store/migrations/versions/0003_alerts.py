"""alerts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=255), nullable=False),
        sa.Column("group_key", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=True),
        sa.Column("severity", sa.String(length=50), nullable=True),
        sa.Column("route", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incident_number", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["incident_number"], ["incident.number"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "fingerprint", name="uq_alert_source_fingerprint"),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_group_key"), ["group_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_incident_number"), ["incident_number"], unique=False)
    op.create_table(
        "incident_group",
        sa.Column("group_key", sa.String(length=500), nullable=False),
        sa.Column("incident_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["incident_number"], ["incident.number"]),
        sa.PrimaryKeyConstraint("group_key", "incident_number"),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alerts_ts", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("alerts_message_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("alerts_cleared_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_alert_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("last_alert_at")
        batch_op.drop_column("alerts_cleared_at")
        batch_op.drop_column("alerts_message_due_at")
        batch_op.drop_column("alerts_ts")
    op.drop_table("incident_group")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_incident_number"))
        batch_op.drop_index(batch_op.f("ix_alert_group_key"))
    op.drop_table("alert")
