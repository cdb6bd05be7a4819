"""Database tables (SQLModel). Timestamps are timezone-aware UTC on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.clock import utcnow as utcnow  # re-exported: default times come from the one clock


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores UTC, hands back aware datetimes (SQLite drops the zone, PostgreSQL keeps it)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _time(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


class Incident(SQLModel, table=True):
    number: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    severity: str = Field(max_length=16)
    status: str = Field(max_length=16, index=True)
    service: str | None = Field(default=None, max_length=100)
    description: str | None = None
    reporter_id: str = Field(max_length=32)
    private: bool = False
    drill: bool = False
    # Set for incidents declared from a modal, so a double submission declares once.
    declare_key: str | None = Field(default=None, max_length=100, unique=True)
    resolve_summary: str | None = None

    # Slack projection: what has been done in Slack so far (see slack/projector.py).
    channel_id: str | None = Field(default=None, max_length=32, index=True)
    channel_name: str | None = Field(default=None, max_length=80)
    summary_ts: str | None = Field(default=None, max_length=32)
    announcement_channel_id: str | None = Field(default=None, max_length=32)
    announcement_ts: str | None = Field(default=None, max_length=32)
    slack_topic: str | None = Field(default=None, max_length=250)
    alerts_ts: str | None = Field(default=None, max_length=32)  # the alerts message, updated in place
    alerts_message_due_at: datetime | None = _time()  # when its next refresh is scheduled
    alerts_cleared_at: datetime | None = _time()  # when all alerts resolved (and the commander was asked)
    last_alert_at: datetime | None = _time()
    # When the commander is next reminded to post a status update (the severity's cadence).
    update_due_at: datetime | None = _time()
    postmortem_version: int | None = None  # the newest post-mortem draft, linked from the summary
    postmortem_url: str | None = Field(default=None, max_length=500)
    # The post-mortem's review (bot/services/reviews.py): draft, in_review, published.
    postmortem_state: str | None = Field(default=None, max_length=16)
    postmortem_owner: str | None = Field(default=None, max_length=32, index=True)
    postmortem_due_at: datetime | None = _time()
    postmortem_published_at: datetime | None = _time()
    cause_change: str | None = Field(default=None, max_length=200)  # the change linked as its cause
    # The status page (bot/services/updates.py): its random id and title for this incident,
    # set by the first public update, and the incident made for it in Atlassian Statuspage.
    public_id: str | None = Field(default=None, max_length=16, unique=True)
    public_title: str | None = Field(default=None, max_length=200)
    # Its severity's rank (1: the most urgent), copied onto its jobs (store/jobs.py).
    priority: int = Field(default=100, sa_column_kwargs={"server_default": "100"})
    statuspage_id: str | None = Field(default=None, max_length=64)

    started_at: datetime = _time(nullable=False)
    detected_at: datetime = _time(nullable=False)
    declared_at: datetime = _time(nullable=False)
    acknowledged_at: datetime | None = _time()
    mitigated_at: datetime | None = _time()
    resolved_at: datetime | None = _time()
    closed_at: datetime | None = _time()
    updated_at: datetime = _time(nullable=False)


class AlertRecord(SQLModel, table=True):
    """One alert per (source, fingerprint): its latest status, and the incident it joined."""

    __tablename__ = "alert"
    __table_args__ = (
        sa.UniqueConstraint("source", "fingerprint", name="uq_alert_source_fingerprint"),
        # "Is anything of this incident still firing?" without reading its whole storm.
        sa.Index("ix_alert_incident_status", "incident_number", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=32)
    fingerprint: str = Field(max_length=255)
    group_key: str | None = Field(default=None, max_length=500, index=True)
    status: str = Field(max_length=16)
    title: str = Field(max_length=500)
    service: str | None = Field(default=None, max_length=100)
    severity: str | None = Field(default=None, max_length=50)
    route: str = Field(max_length=100)
    action: str = Field(max_length=16)
    labels: dict[str, str] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    annotations: dict[str, str] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    links: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    starts_at: datetime = _time(nullable=False)
    ends_at: datetime | None = _time()
    first_seen_at: datetime = _time(nullable=False)
    last_seen_at: datetime = _time(nullable=False)
    incident_number: int | None = Field(default=None, foreign_key="incident.number")


class IncidentGroup(SQLModel, table=True):
    """The alert group keys an incident holds: what grouping looks up, a handful per incident
    however many alerts it has."""

    __tablename__ = "incident_group"

    group_key: str = Field(primary_key=True, max_length=500)
    incident_number: int = Field(primary_key=True, foreign_key="incident.number")


class PagerDutyPage(SQLModel, table=True):
    """A PagerDuty service paged for an incident; resolved in PagerDuty when the incident is."""

    __tablename__ = "pagerduty_page"

    id: int | None = Field(default=None, primary_key=True)
    incident_number: int = Field(foreign_key="incident.number", index=True)
    service: str = Field(max_length=100)
    dedup_key: str = Field(max_length=255, unique=True)
    paged_by: str = Field(max_length=32)
    paged_at: datetime = _time(nullable=False)
    resolved_at: datetime | None = _time()


class RoleAssignment(SQLModel, table=True):
    __tablename__ = "role_assignment"

    id: int | None = Field(default=None, primary_key=True)
    incident_number: int = Field(foreign_key="incident.number", index=True)
    role: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    assigned_by: str = Field(max_length=32)
    assigned_at: datetime = _time(nullable=False)
    ended_at: datetime | None = _time()


class TimelineEvent(SQLModel, table=True):
    __tablename__ = "timeline_event"
    __table_args__ = (sa.Index("ix_timeline_incident_at", "incident_number", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_number: int = Field(foreign_key="incident.number")
    at: datetime = _time(nullable=False)
    recorded_at: datetime = _time(nullable=False)
    kind: str = Field(max_length=32)
    actor: str | None = Field(default=None, max_length=32)
    text: str
    # Where it came from, e.g. the Slack channel and ts of a pinned message.
    source: str | None = Field(default=None, max_length=200)
    idempotency_key: str = Field(max_length=200, unique=True)


class RunbookRun(SQLModel, table=True):
    """A runbook an incident runs, with the definition it started with (files change)."""

    __tablename__ = "runbook_run"
    __table_args__ = (sa.UniqueConstraint("incident_number", "name", name="uq_runbook_run_incident_name"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_number: int = Field(foreign_key="incident.number", index=True)
    name: str = Field(max_length=64)
    version: str = Field(max_length=16)  # content hash of the runbook file
    definition: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    source: str = Field(max_length=16)  # match | route | command | drill
    attached_by: str = Field(max_length=32)
    attached_at: datetime = _time(nullable=False)
    checklist_ts: str | None = Field(default=None, max_length=32)  # the checklist message


class RunbookStep(SQLModel, table=True):
    """What happened to one step of a running runbook."""

    __tablename__ = "runbook_step"
    __table_args__ = (sa.UniqueConstraint("run_id", "step_id", name="uq_runbook_step_run_step"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runbook_run.id", index=True)
    step_id: str = Field(max_length=64)
    state: str = Field(default="pending", max_length=16)
    taken_by: str | None = Field(default=None, max_length=32)
    taken_at: datetime | None = _time()
    finished_by: str | None = Field(default=None, max_length=32)
    finished_at: datetime | None = _time()
    skip_reason: str | None = Field(default=None, max_length=500)
    reminded_at: datetime | None = _time()


class ActionRun(SQLModel, table=True):
    """One run of a step's action (bot/services/actions.py): what it sent (secrets as
    `${NAME}`, never their values), its key, and how it ended. A Retry is a new run."""

    __tablename__ = "action_run"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runbook_run.id", index=True)
    step_id: str = Field(max_length=64)
    incident_number: int = Field(foreign_key="incident.number", index=True)
    kind: str = Field(max_length=16)  # ActionKind
    request: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    line: str = Field(max_length=500)  # "POST https://deploy.example.com/..." or "set the status to ..."
    idempotency_key: str = Field(max_length=64, unique=True)
    state: str = Field(max_length=16)  # RunState
    dry_run: bool = False
    requested_by: str = Field(max_length=32)
    requested_at: datetime = _time(nullable=False)
    finished_at: datetime | None = _time()
    attempts: int = 0
    status_code: int | None = None
    seconds: float | None = None
    summary: str | None = Field(default=None, max_length=500)  # "200 OK in 0.4 s"; secrets redacted
    answer: str | None = Field(default=None, max_length=2000)  # its first 500 characters, redacted


class StatusUpdate(SQLModel, table=True):
    """An update for the incident's audience beyond its channel: the stakeholder channels of
    its severity, and for a public one the status page too."""

    __tablename__ = "status_update"

    id: int | None = Field(default=None, primary_key=True)
    incident_number: int = Field(foreign_key="incident.number", index=True)
    at: datetime = _time(nullable=False, index=True)
    actor: str = Field(max_length=32)
    message: str
    audience: str = Field(max_length=16)  # internal | public (bot/domain/status.py)
    status: str = Field(max_length=16)  # the incident's status when it was posted
    components: dict[str, str] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    final: bool = False  # the update resolving the incident posted
    event_key: str = Field(max_length=200, unique=True)  # its timeline entry
    statuspage_update_id: str | None = Field(default=None, max_length=64)  # posted to Statuspage


class FollowUp(SQLModel, table=True):
    """An action item for after the incident (bot/services/followups.py)."""

    __tablename__ = "followup"

    id: int | None = Field(default=None, primary_key=True)
    incident_number: int = Field(foreign_key="incident.number", index=True)
    text: str = Field(max_length=500)  # its title
    owner: str | None = Field(default=None, max_length=32, index=True)
    priority: str = Field(default="P2", max_length=2)
    state: str = Field(default="open", max_length=8)  # open | done | wont_do
    due_at: datetime | None = _time()
    created_by: str = Field(max_length=32)
    created_at: datetime = _time(nullable=False)
    done_at: datetime | None = _time()  # when it was closed, done or won't do
    closed_by: str | None = Field(default=None, max_length=32)
    # Its ticket in the tracker (followups.tracker), once the job made it: `acme/ops#12`.
    ticket_key: str | None = Field(default=None, max_length=100, index=True)
    ticket_url: str | None = Field(default=None, max_length=500)


class Postmortem(SQLModel, table=True):
    """One rendered post-mortem draft; every version is kept."""

    __table_args__ = (
        sa.UniqueConstraint("incident_number", "version", name="uq_postmortem_incident_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_number: int = Field(foreign_key="incident.number", index=True)
    version: int
    markdown: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    html: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    chart: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary, nullable=True))  # PNG
    created_by: str = Field(max_length=32)
    created_at: datetime = _time(nullable=False)
    slack_file_id: str | None = Field(default=None, max_length=32)


class ChangeEvent(SQLModel, table=True):
    """What a sender said of a change (a deploy started, then succeeded): append-only, one
    row per change and status, so a redelivery changes nothing (bot/domain/changes.py folds
    them into changes)."""

    __tablename__ = "change_event"
    __table_args__ = (
        sa.UniqueConstraint("change_id", "status", name="uq_change_event_change_status"),
        sa.Index("ix_change_event_service_started", "service", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    change_id: str = Field(max_length=200, index=True)
    status: str = Field(max_length=16)
    service: str = Field(max_length=100)
    environment: str = Field(max_length=60)
    kind: str = Field(max_length=16)
    summary: str = Field(max_length=300)
    version: str | None = Field(default=None, max_length=100)
    previous_version: str | None = Field(default=None, max_length=100)
    author: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=500)
    source: str = Field(max_length=16)  # webhook | github | cli
    freeze: str | None = Field(default=None, max_length=500)  # the freeze it arrived during
    started_at: datetime = _time(nullable=False)
    finished_at: datetime | None = _time()
    recorded_at: datetime = _time(nullable=False)


class PersonRecord(SQLModel, table=True):
    """A Slack user as documents name them: users.info, cached (bot/services/people.py).
    A row without refreshed_at is a person seen but not looked up yet."""

    __tablename__ = "person"

    user_id: str = Field(primary_key=True, max_length=32)
    handle: str | None = Field(default=None, max_length=120)
    real_name: str | None = Field(default=None, max_length=200)
    deleted: bool = False
    refreshed_at: datetime | None = _time()


class ApiToken(SQLModel, table=True):
    """A credential for /api (`warroom token create`): only its SHA-256 is kept."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=28, unique=True)  # the timeline says `api:NAME` (32 characters)
    scope: str = Field(max_length=8)  # read | write | admin
    token_hash: str = Field(max_length=64, unique=True)
    hint: str = Field(max_length=12)  # the token's first characters, to recognise it by
    created_at: datetime = _time(nullable=False)
    expires_at: datetime | None = _time()
    revoked_at: datetime | None = _time()
