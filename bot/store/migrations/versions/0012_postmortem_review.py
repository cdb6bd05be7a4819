"""postmortem review: a post-mortem's state, owner, due date and publication

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("postmortem_state", sa.String(16), nullable=True))
        batch.add_column(sa.Column("postmortem_owner", sa.String(32), nullable=True))
        batch.add_column(sa.Column("postmortem_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("postmortem_published_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_incident_postmortem_owner", ["postmortem_owner"])


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.drop_index("ix_incident_postmortem_owner")
        for column in (
            "postmortem_published_at",
            "postmortem_due_at",
            "postmortem_owner",
            "postmortem_state",
        ):
            batch.drop_column(column)
