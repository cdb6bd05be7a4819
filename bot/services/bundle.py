"""All of warroom's use cases together (`Services`), and `build_services`, which wires them to
one database: what the composition root (bot/app.py), the command line and the benchmarks
build, and what the adapters (Slack listeners and jobs, the API, the webhooks, the PagerDuty
and tracker jobs) are handed."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import ConfigError, Settings, WarroomConfig
from bot.documents.postmortem import PostmortemRenderer, PostmortemTemplateError
from bot.runbook_files import RunbookLibrary
from bot.services.access import Access
from bot.services.actions import ActionService
from bot.services.alerts import AlertService
from bot.services.changes import ChangeService
from bot.services.dora import DoraService
from bot.services.followups import Followups
from bot.services.incidents import IncidentService
from bot.services.paging import Paging
from bot.services.people import People
from bot.services.postmortems import PostmortemService
from bot.services.projection import Projection
from bot.services.queries import IncidentQueries
from bot.services.reminders import Reminders
from bot.services.reports import ReportService
from bot.services.reviews import Reviews
from bot.services.runbooks import RunbookService
from bot.services.schedules import ScheduledReports
from bot.services.status_page import AvailabilityReads, StatusPageReads
from bot.services.timeline import Timeline
from bot.services.tokens import TokenService
from bot.services.updates import Outlets, Updates
from bot.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class Services:
    """The use cases, wired to one database: everything warroom does that is not Slack.
    `serve`, the worker and the command line all build them here."""

    timeline: Timeline
    queries: IncidentQueries
    actions: ActionService
    reminders: Reminders
    runbooks: RunbookService
    paging: Paging
    projection: Projection
    incidents: IncidentService
    alerts: AlertService
    postmortems: PostmortemService
    reports: ReportService
    reviews: Reviews
    schedules: ScheduledReports
    followups: Followups
    tokens: TokenService
    changes: ChangeService
    dora: DoraService
    updates: Updates
    status_page: StatusPageReads
    availability: AvailabilityReads

    @property
    def people(self) -> People:
        return self.timeline.people


def build_services(
    settings: Settings,
    config: WarroomConfig,
    db: Database,
    *,
    notify: Callable[[], None] = lambda: None,
    access: Access | None = None,
) -> Services:
    library = RunbookLibrary(
        settings.runbooks_dir,
        roles=config.role_names,
        severities=config.severity_names,
        policy=config.actions.policy,
        environ=os.environ,  # for warnings only: an action's ${NAME} is read when it runs
    )
    people = People(db)
    timeline = Timeline(db, notify=notify, people=people)
    queries = IncidentQueries(db, config, people)
    reminders = Reminders(timeline, config)
    access = access or Access(config.access, _no_members, limits=config.limits)
    actions = ActionService(timeline, config, access)
    runbooks = RunbookService(timeline, reminders, library, config, actions)
    outlets = Outlets(
        static_copy=bool(settings.status_page_dir),
        statuspage=bool(settings.statuspage_api_key and settings.statuspage_page_id),
    )
    updates = Updates(timeline, reminders, config, access, outlets)
    incidents = IncidentService(timeline, queries, reminders, runbooks, config, updates, access=access)
    try:
        renderer = PostmortemRenderer(config.zone, config.postmortem_template)
    except PostmortemTemplateError as exc:
        raise ConfigError(f"postmortem_template: {exc}") from None
    reports = ReportService(db, config.zone, notify=notify)
    reviews = Reviews(timeline, config)
    changes = ChangeService(timeline, config)
    return Services(
        timeline=timeline,
        queries=queries,
        actions=actions,
        reminders=reminders,
        runbooks=runbooks,
        paging=Paging(timeline, config, settings.pagerduty_routing_key),
        projection=Projection(timeline),
        incidents=incidents,
        alerts=AlertService(db, config, incidents, notify=notify),
        postmortems=PostmortemService(timeline, renderer, settings.postmortem_dir, reports, reviews, changes),
        reports=reports,
        reviews=reviews,
        schedules=ScheduledReports(db, config, notify=notify),
        followups=Followups(timeline, config),
        tokens=TokenService(db),
        changes=changes,
        dora=DoraService(changes, config.zone),
        updates=updates,
        status_page=StatusPageReads(db, config),
        availability=AvailabilityReads(db, config),
    )


def check_runbooks(library: RunbookLibrary, config: WarroomConfig) -> None:
    """Broken runbook files are logged and left out (`warroom runbooks validate` names every
    problem); an alert route naming a runbook that is not there stops start-up."""
    loaded = library.load()
    for problem in loaded.problems:
        log.error("runbook left out: %s", problem)
    for warning in loaded.warnings:
        log.warning("runbook: %s", warning)
    for i, route in enumerate(config.alerts.routes):
        if route.runbook and route.runbook not in loaded.runbooks:
            raise ConfigError(
                f"alerts.routes.{i}.runbook: no runbook named {route.runbook!r} in {library.directory}"
            )


async def _no_members(group: str) -> set[str]:
    return set()
