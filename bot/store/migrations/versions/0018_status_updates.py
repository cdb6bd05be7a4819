"""stakeholder updates and the status page: the updates, and each incident's public face

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_update",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_number", sa.Integer, sa.ForeignKey("incident.number"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("components", sa.JSON, nullable=False),
        sa.Column("final", sa.Boolean, nullable=False),
        sa.Column("event_key", sa.String(200), nullable=False, unique=True),
        sa.Column("statuspage_update_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_status_update_incident_number", "status_update", ["incident_number"])
    op.create_index("ix_status_update_at", "status_update", ["at"])
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("public_id", sa.String(16), nullable=True))
        batch.add_column(sa.Column("public_title", sa.String(200), nullable=True))
        batch.add_column(sa.Column("statuspage_id", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_incident_public_id", ["public_id"])


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.drop_constraint("uq_incident_public_id", type_="unique")
        batch.drop_column("statuspage_id")
        batch.drop_column("public_title")
        batch.drop_column("public_id")
    op.drop_table("status_update")
