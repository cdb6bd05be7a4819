"""followups and postmortems

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "followup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_number", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_number"],
            ["incident.number"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("followup", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_followup_incident_number"), ["incident_number"], unique=False)

    op.create_table(
        "postmortem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_number", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slack_file_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_number"],
            ["incident.number"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_number", "version", name="uq_postmortem_incident_version"),
    )
    with op.batch_alter_table("postmortem", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_postmortem_incident_number"), ["incident_number"], unique=False)

    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("postmortem_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("postmortem_url", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("postmortem_url")
        batch_op.drop_column("postmortem_version")

    with op.batch_alter_table("postmortem", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postmortem_incident_number"))

    op.drop_table("postmortem")
    with op.batch_alter_table("followup", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_followup_incident_number"))

    op.drop_table("followup")
