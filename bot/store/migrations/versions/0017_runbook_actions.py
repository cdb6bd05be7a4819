"""runbook actions: one row per run of a step's action

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_run",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runbook_run.id"), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("incident_number", sa.Integer, sa.ForeignKey("incident.number"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("line", sa.String(500), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("requested_by", sa.String(32), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("seconds", sa.Float, nullable=True),
        sa.Column("summary", sa.String(500), nullable=True),
        sa.Column("answer", sa.String(2000), nullable=True),
    )
    op.create_index("ix_action_run_run_id", "action_run", ["run_id"])
    op.create_index("ix_action_run_incident_number", "action_run", ["incident_number"])


def downgrade() -> None:
    op.drop_table("action_run")
