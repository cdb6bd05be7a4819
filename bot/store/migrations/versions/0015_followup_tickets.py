"""followup tickets: the tracker ticket each follow-up opened

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("followup") as batch:
        batch.add_column(sa.Column("ticket_key", sa.String(100), nullable=True))
        batch.add_column(sa.Column("ticket_url", sa.String(500), nullable=True))
        batch.create_index("ix_followup_ticket_key", ["ticket_key"])


def downgrade() -> None:
    with op.batch_alter_table("followup") as batch:
        batch.drop_index("ix_followup_ticket_key")
        batch.drop_column("ticket_url")
        batch.drop_column("ticket_key")
