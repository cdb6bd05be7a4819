"""wake workers on PostgreSQL when jobs are inserted

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

A statement-level trigger sends NOTIFY warroom_jobs for every insert into job, so workers
in any process wake at commit without the application spending a round trip on it.
SQLite has no NOTIFY: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION warroom_job_notify() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('warroom_jobs', '');
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER job_notify AFTER INSERT ON job FOR EACH STATEMENT EXECUTE FUNCTION warroom_job_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS job_notify ON job")
    op.execute("DROP FUNCTION IF EXISTS warroom_job_notify()")
