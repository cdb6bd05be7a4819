"""followups that close: priority, state, due date, who closed them

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("followup") as batch:
        batch.add_column(sa.Column("priority", sa.String(2), nullable=False, server_default="P2"))
        batch.add_column(sa.Column("state", sa.String(8), nullable=False, server_default="open"))
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("closed_by", sa.String(32), nullable=True))
        batch.create_index("ix_followup_owner", ["owner"])
    op.execute("UPDATE followup SET state = 'done' WHERE done_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("followup") as batch:
        batch.drop_index("ix_followup_owner")
        for column in ("closed_by", "due_at", "state", "priority"):
            batch.drop_column(column)
