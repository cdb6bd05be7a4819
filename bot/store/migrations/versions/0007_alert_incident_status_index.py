"""alerts: index (incident_number, status) in place of (incident_number)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

The all-clear check asks whether any alert of an incident is still firing after every
delivery that resolves one. With an index on incident_number alone it read every alert of
the incident, which in a storm grows by thousands a minute.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch_op:
        batch_op.create_index("ix_alert_incident_status", ["incident_number", "status"], unique=False)
        batch_op.drop_index("ix_alert_incident_number")


def downgrade() -> None:
    with op.batch_alter_table("alert") as batch_op:
        batch_op.create_index("ix_alert_incident_number", ["incident_number"], unique=False)
        batch_op.drop_index("ix_alert_incident_status")
