"""All of warroom's use cases together, as the composition root (bot/app.py) builds them:
what the adapters (Slack listeners and projector, the API, the PagerDuty jobs, the command
line) are handed."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.alerts import AlertService
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
from bot.services.timeline import Timeline
from bot.services.tokens import TokenService


@dataclass
class Services:
    """The use cases, wired to one database: everything warroom does that is not Slack.
    `serve`, the worker and the command line all build them here."""

    timeline: Timeline
    queries: IncidentQueries
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

    @property
    def people(self) -> People:
        return self.timeline.people
