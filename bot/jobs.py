"""The job catalog: every kind of job warroom runs, its payload and its queue.

A job is an outbound effect (Slack, PagerDuty) or a scheduled check, committed with the
change that causes it and run by the worker (bot/worker.py). Enqueue sites name a `JobKind`;
the composition root maps every kind to its handler, and start-up fails, naming the kind, if
one has none.

Queues order jobs: the jobs of one queue run one at a time, in id order. Scheduled jobs get a
queue of their own, so that a job waiting for its time holds nothing up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any, TypedDict

from bot.config import ConfigError

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class JobKind(StrEnum):
    # Slack: make Slack match the database (bot/slack/projector.py)
    SLACK_OPEN_CHANNEL = "slack.open_channel"
    SLACK_SYNC_SUMMARY = "slack.sync_summary"
    SLACK_ECHO = "slack.echo"
    SLACK_INVITE = "slack.invite"
    SLACK_RECORD_PIN = "slack.record_pin"
    SLACK_PUBLISH_HOME = "slack.publish_home"
    SLACK_SYNC_ALERTS = "slack.sync_alerts"
    SLACK_ALERTS_CLEARED = "slack.alerts_cleared"
    SLACK_TRIAGE = "slack.triage"
    SLACK_SYNC_CHECKLIST = "slack.sync_checklist"
    SLACK_UPLOAD_POSTMORTEM = "slack.upload_postmortem"
    SLACK_POST_REPORT = "slack.post_report"
    SLACK_LOOKUP_USER = "slack.lookup_user"
    SLACK_CATCHUP = "slack.catchup"
    SLACK_PUBLISH_POSTMORTEM = "slack.publish_postmortem"
    SLACK_FOLLOWUP_DIGEST = "slack.followup_digest"
    SLACK_POST_CHANGES = "slack.post_changes"
    SLACK_POST_UPDATE = "slack.post_update"
    # PagerDuty (bot/integrations/pagerduty.py)
    PAGERDUTY_ONCALL = "pagerduty.oncall"
    PAGERDUTY_TRIGGER = "pagerduty.trigger"
    PAGERDUTY_RESOLVE = "pagerduty.resolve"
    # The follow-up tracker (bot/integrations/tracker_jobs.py)
    TRACKER_CREATE = "tracker.create"
    TRACKER_SYNC = "tracker.sync"
    TRACKER_RECONCILE = "tracker.reconcile"
    # The status page: its static copy (bot/documents/status_page.py), Atlassian Statuspage
    # (bot/integrations/statuspage.py)
    STATUS_PAGE_EXPORT = "status_page.export"
    STATUSPAGE_SYNC = "statuspage.sync"
    # A runbook step's action (bot/integrations/actions.py)
    RUNBOOK_ACTION = "runbook.action"
    # Scheduled checks and documents (bot/services)
    REMINDER_STATUS_UPDATE = "reminder.status_update"
    REMINDER_RUNBOOK_STEP = "reminder.runbook_step"
    REMINDER_POSTMORTEM = "reminder.postmortem"
    REMINDER_FOLLOWUP = "reminder.followup"
    POSTMORTEM_GENERATE = "postmortem.generate"
    REPORT_SCHEDULED = "report.scheduled"


# ---------------------------------------------------------------- payloads


class IncidentJob(TypedDict):
    """open_channel, sync_summary, sync_alerts, alerts_cleared, post_changes, oncall, resolve,
    generate."""

    incident: int


class UpdateReminderJob(TypedDict):
    incident: int
    due: str  # ISO time the update was due; a reminder for an older due date stays quiet


class EchoJob(TypedDict):
    incident: int
    event_key: str  # the timeline event to post


class InviteJob(TypedDict):
    incident: int
    users: list[str]


class PinJob(TypedDict):
    incident: int
    channel: str
    ts: str
    user: str


class UserJob(TypedDict):
    """publish_home, lookup_user."""

    user: str


class CatchupJob(TypedDict):
    incident: int
    user: str  # who joined the channel: shown the digest, ephemerally


class TriageJob(TypedDict):
    source: str
    fingerprint: str


class ChecklistJob(TypedDict):
    incident: int
    run: int


class StepReminderJob(TypedDict):
    run: int
    step: str


class UploadJob(TypedDict):
    """upload_postmortem (a draft, into the channel), publish_postmortem (the final version)."""

    incident: int
    postmortem: int  # the draft version's row


class PostmortemReminderJob(TypedDict):
    incident: int
    due: str  # ISO due date it was scheduled for; a changed due date keeps it quiet
    when: str  # "before" (the due date nears) or "overdue" (again each day until published)


class FollowupReminderJob(TypedDict):
    followup: int
    due: str  # ISO due date it was scheduled for; a changed due date keeps it quiet


class TrackerJob(TypedDict):
    """tracker.create (make the follow-up's ticket), tracker.sync (close or reopen it)."""

    incident: int
    followup: int


class ActionJob(TypedDict):
    incident: int
    action: int  # the action_run row: its request and its Idempotency-Key


class StakeholderJob(TypedDict):
    incident: int  # where a failure for good is noted
    update: int  # the status_update row
    channel: str  # a stakeholder channel (name or id) of the incident's severity


class ExportJob(TypedDict):
    """status_page.export: the whole page is written again; nothing to name."""


class ReconcileJob(TypedDict):
    at: str  # ISO time it was scheduled for
    name: str


class ReportJob(TypedDict):
    channel: str
    since: float  # seconds
    user: str
    response_url: str | None
    id: str  # names the chart's file, so that a retry can find it


class ScheduledReportJob(TypedDict):
    """report.scheduled (`name`: mttr-report or followup-digest), slack.followup_digest."""

    at: str  # ISO time it is due; a report covers the period that ended then
    name: str


class TriggerJob(TypedDict):
    incident: int
    page: int  # the pagerduty_page row
    routing_key: str


# What each kind's payload holds (the handler reads these keys; nothing else is promised).
PAYLOADS: dict[JobKind, type] = {
    JobKind.SLACK_OPEN_CHANNEL: IncidentJob,
    JobKind.SLACK_SYNC_SUMMARY: IncidentJob,
    JobKind.SLACK_ECHO: EchoJob,
    JobKind.SLACK_INVITE: InviteJob,
    JobKind.SLACK_RECORD_PIN: PinJob,
    JobKind.SLACK_PUBLISH_HOME: UserJob,
    JobKind.SLACK_SYNC_ALERTS: IncidentJob,
    JobKind.SLACK_ALERTS_CLEARED: IncidentJob,
    JobKind.SLACK_TRIAGE: TriageJob,
    JobKind.SLACK_SYNC_CHECKLIST: ChecklistJob,
    JobKind.SLACK_UPLOAD_POSTMORTEM: UploadJob,
    JobKind.SLACK_POST_REPORT: ReportJob,
    JobKind.SLACK_LOOKUP_USER: UserJob,
    JobKind.SLACK_CATCHUP: CatchupJob,
    JobKind.SLACK_PUBLISH_POSTMORTEM: UploadJob,
    JobKind.SLACK_FOLLOWUP_DIGEST: ScheduledReportJob,
    JobKind.SLACK_POST_CHANGES: IncidentJob,
    JobKind.SLACK_POST_UPDATE: StakeholderJob,
    JobKind.STATUS_PAGE_EXPORT: ExportJob,
    JobKind.STATUSPAGE_SYNC: IncidentJob,
    JobKind.TRACKER_CREATE: TrackerJob,
    JobKind.TRACKER_SYNC: TrackerJob,
    JobKind.TRACKER_RECONCILE: ReconcileJob,
    JobKind.RUNBOOK_ACTION: ActionJob,
    JobKind.PAGERDUTY_ONCALL: IncidentJob,
    JobKind.PAGERDUTY_TRIGGER: TriggerJob,
    JobKind.PAGERDUTY_RESOLVE: IncidentJob,
    JobKind.REMINDER_STATUS_UPDATE: UpdateReminderJob,
    JobKind.REMINDER_RUNBOOK_STEP: StepReminderJob,
    JobKind.REMINDER_POSTMORTEM: PostmortemReminderJob,
    JobKind.REMINDER_FOLLOWUP: FollowupReminderJob,
    JobKind.POSTMORTEM_GENERATE: IncidentJob,
    JobKind.REPORT_SCHEDULED: ScheduledReportJob,
}


# ---------------------------------------------------------------- queues


def incident_queue(number: int) -> str:
    """An incident's Slack and PagerDuty work, in order (its messages stay in order)."""
    return f"incident:{number}"


def alerts_queue(number: int) -> str:
    """The alerts message of an incident: refreshed apart from its other messages."""
    return f"alerts:{number}"


def reminder_queue(name: str) -> str:
    return f"reminder:{name}"[:100]


def postmortem_queue(number: int) -> str:
    return f"postmortem:{number}"


def tracker_queue(followup: int) -> str:
    """A follow-up's ticket work, in order (made, then closed)."""
    return f"tracker:{followup}"


def action_queue(action: int) -> str:
    """One run of a step's action: a slow target holds up nothing else of the incident."""
    return f"action:{action}"


def stakeholder_queue(channel: str) -> str:
    """A stakeholder channel's updates, in order, whatever incident they come from."""
    return f"stakeholders:{channel}"[:100]


STATUS_PAGE_QUEUE = "status_page"  # its exports, one at a time


def statuspage_queue(number: int) -> str:
    """An incident's Statuspage work, in order (made, updated, resolved)."""
    return f"statuspage:{number}"


def report_queue(channel: str) -> str:
    return f"report:{channel}"


def home_queue(user: str) -> str:
    return f"home:{user}"


def people_queue(user: str) -> str:
    return f"people:{user}"


def triage_queue(key: str) -> str:
    return f"triage:{key}"[:100]


# ---------------------------------------------------------------- handlers


class MissingHandler(ConfigError):
    """A job kind nothing would run: its jobs would wait forever."""


def check_handlers(handlers: Mapping[str, Handler]) -> None:
    """Every kind has a handler, and every handler a kind."""
    missing = [kind.value for kind in JobKind if kind.value not in handlers]
    if missing:
        raise MissingHandler(f"job kind {', '.join(missing)} has no handler")
    unknown = sorted(set(handlers) - {kind.value for kind in JobKind})
    if unknown:
        raise MissingHandler(f"handler for {', '.join(unknown)}, which is not a JobKind")
