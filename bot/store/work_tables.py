"""The tables of the house's own work: the job queue (bot/store/jobs.py), the schedules, the
ids of deliveries already handled, and the Slack rate budget the replicas share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from bot.store.tables import _time


class Schedule(SQLModel, table=True):
    """The latest period each schedule has enqueued its job for (the weekly MTTR report):
    claimed with a conditional upsert, so that one replica of many schedules each period."""

    name: str = Field(primary_key=True, max_length=64)
    period: str = Field(max_length=40)  # the ISO time of the period's job (UTC: sorts as text)
    updated_at: datetime = _time(nullable=False)


class ProcessedEvent(SQLModel, table=True):
    """Deliveries already handled (Slack event ids), so a retry changes nothing."""

    __tablename__ = "processed_event"

    key: str = Field(primary_key=True, max_length=200)
    processed_at: datetime = _time(nullable=False)


def _pending() -> sa.TextClause:
    return sa.text("done_at IS NULL AND failed_at IS NULL")


def _waiting() -> sa.TextClause:
    return sa.text("waiting_for IS NOT NULL AND done_at IS NULL AND failed_at IS NULL")


class Job(SQLModel, table=True):
    """The outbox and the scheduler: Slack side effects waiting to be done (store/jobs.py)."""

    # Only pending jobs are indexed, so claiming reads none of the long history of done jobs:
    # due jobs most urgent then oldest first, and "is an earlier job of this queue still pending?".
    __table_args__ = (
        sa.Index("ix_job_pending", "priority", "id", sqlite_where=_pending(), postgresql_where=_pending()),
        sa.Index("ix_job_queue_pending", "queue", "id", sqlite_where=_pending(), postgresql_where=_pending()),
        # The line for a Slack budget: who waits for it, most urgent first (migration 0019).
        sa.Index(
            "ix_job_waiting",
            "waiting_for",
            "priority",
            "id",
            sqlite_where=_waiting(),
            postgresql_where=_waiting(),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    # Jobs in one queue run one at a time in id order (an incident's messages stay in order).
    queue: str = Field(max_length=100)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    run_at: datetime = _time(nullable=False)
    attempts: int = 0
    locked_until: datetime | None = _time()
    last_error: str | None = None
    # Its incident's rank (1: the most urgent severity; 100: no incident): due jobs are claimed
    # most urgent first, and wait for a Slack budget in that order.
    priority: int = Field(default=100, sa_column_kwargs={"server_default": "100"})
    # The Slack budget it waits for (run_at is then the time reserved for it), or None.
    waiting_for: str | None = Field(default=None, max_length=100)
    created_at: datetime = _time(nullable=False)
    done_at: datetime | None = _time()
    failed_at: datetime | None = _time()


class SlackBudget(SQLModel, table=True):
    """The times of the last calls per Slack budget key, shared by the replicas on
    PostgreSQL (UNLOGGED there; migration 0019). Unused on SQLite, whose budget is in the
    process."""

    __tablename__ = "slack_budget"

    key: str = Field(primary_key=True, max_length=200)
    calls: list[float] = Field(
        default_factory=list,
        sa_column=sa.Column(sa.JSON().with_variant(ARRAY(sa.Float), "postgresql"), nullable=False),
    )
