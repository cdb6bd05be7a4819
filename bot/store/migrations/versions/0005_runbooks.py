"""runbooks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "runbook_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("attached_by", sa.String(length=32), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checklist_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_number"],
            ["incident.number"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_number", "name", name="uq_runbook_run_incident_name"),
    )
    with op.batch_alter_table("runbook_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runbook_run_incident_number"), ["incident_number"], unique=False)

    op.create_table(
        "runbook_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("taken_by", sa.String(length=32), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_by", sa.String(length=32), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skip_reason", sa.String(length=500), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runbook_run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "step_id", name="uq_runbook_step_run_step"),
    )
    with op.batch_alter_table("runbook_step", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runbook_step_run_id"), ["run_id"], unique=False)

    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("update_due_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("update_due_at")

    with op.batch_alter_table("runbook_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runbook_step_run_id"))

    op.drop_table("runbook_step")
    with op.batch_alter_table("runbook_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runbook_run_incident_number"))

    op.drop_table("runbook_run")
