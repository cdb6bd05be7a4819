"""Slack under pressure: jobs carry their incident's priority and what they wait for, and
PostgreSQL keeps one Slack rate budget for every replica

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03

`slack_budget` holds, per budget key (a Web API method, or chat.postMessage in one channel),
the times of the calls made in the last window. On PostgreSQL it is UNLOGGED (a crash only
forgets the last minute of calls) and `warroom_slack_take` spends from it in one statement:
it locks the key's row, counts the jobs waiting in line before the caller, and records the
call when the window has room (bot/slack/ratelimit.py). SQLite keeps the budget in the
process; the table is there, unused, so that both databases have one schema.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("done_at IS NULL AND failed_at IS NULL")
WAITING = sa.text("waiting_for IS NOT NULL AND done_at IS NULL AND failed_at IS NULL")

TAKE = """
CREATE OR REPLACE FUNCTION warroom_slack_take(
    p_key text, p_limit integer, p_keep integer, p_window double precision,
    p_job integer, p_priority integer
) RETURNS TABLE (granted boolean, now double precision, calls double precision[], ahead integer)
LANGUAGE plpgsql AS $$
DECLARE
    t double precision;
    kept double precision[];
BEGIN
    SELECT b.calls INTO kept FROM slack_budget b WHERE b.key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO slack_budget (key, calls) VALUES (p_key, '{}') ON CONFLICT (key) DO NOTHING;
        SELECT b.calls INTO kept FROM slack_budget b WHERE b.key = p_key FOR UPDATE;
    END IF;
    -- The time once the row is ours: a caller that queued for the lock is counted from when
    -- its call can actually go, not from when it asked.
    t := extract(epoch FROM clock_timestamp());
    kept := ARRAY(SELECT c FROM unnest(kept) AS c WHERE c > t - p_window ORDER BY c);
    ahead := 0;
    IF p_job IS NOT NULL THEN
        SELECT count(*) INTO ahead FROM job j
        WHERE j.waiting_for = p_key AND j.done_at IS NULL AND j.failed_at IS NULL
          AND j.id <> p_job AND (j.priority, j.id) < (p_priority, p_job);
    END IF;
    granted := coalesce(array_length(kept, 1), 0) + ahead < p_limit;
    IF granted THEN
        kept := kept || t;
        kept := kept[greatest(1, array_length(kept, 1) - p_keep + 1):];
        IF p_job IS NOT NULL THEN  -- served: it no longer stands in this line
            UPDATE job j SET waiting_for = NULL WHERE j.id = p_job AND j.waiting_for = p_key;
        END IF;
    END IF;
    UPDATE slack_budget b SET calls = kept WHERE b.key = p_key;
    now := t;
    calls := kept;
    RETURN NEXT;
END;
$$
"""


def upgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="100"))
        batch.add_column(sa.Column("waiting_for", sa.String(100), nullable=True))
    op.drop_index("ix_job_pending", "job")
    op.create_index(
        "ix_job_pending", "job", ["priority", "id"], sqlite_where=PENDING, postgresql_where=PENDING
    )
    op.create_index(
        "ix_job_waiting",
        "job",
        ["waiting_for", "priority", "id"],
        sqlite_where=WAITING,
        postgresql_where=WAITING,
    )
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="100"))
    # The default severities' ranks; another configuration's open incidents are ranked again
    # by their next severity change.
    op.execute(
        "UPDATE incident SET priority = CASE severity WHEN 'SEV1' THEN 1 WHEN 'SEV2' THEN 2 "
        "WHEN 'SEV3' THEN 3 WHEN 'SEV4' THEN 4 ELSE 100 END"
    )
    calls = sa.JSON().with_variant(postgresql.ARRAY(sa.Float), "postgresql")
    op.create_table(
        "slack_budget",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("calls", calls, nullable=False),
        prefixes=["UNLOGGED"] if op.get_bind().dialect.name == "postgresql" else [],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(TAKE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS warroom_slack_take(text, integer, integer, double precision, integer, integer)"
        )
    op.drop_table("slack_budget")
    with op.batch_alter_table("incident") as batch:
        batch.drop_column("priority")
    op.drop_index("ix_job_waiting", "job")
    op.drop_index("ix_job_pending", "job")
    op.create_index("ix_job_pending", "job", ["id"], sqlite_where=PENDING, postgresql_where=PENDING)
    with op.batch_alter_table("job") as batch:
        batch.drop_column("waiting_for")
        batch.drop_column("priority")
