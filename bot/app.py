"""Composition root: the one place that builds warroom's parts and wires them together.

build(settings) -> Warroom holds every part (tests and the CLI reach in through it);
build_app(settings) -> the FastAPI application that `warroom serve` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import httpx2
from fastapi import FastAPI
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient
from starlette.middleware.trustedhost import TrustedHostMiddleware

from bot import api, observability, webhooks
from bot.config import Settings, WarroomConfig, load_config
from bot.integrations.action_jobs import ActionJobs, action_failure
from bot.integrations.guarded_http import GuardedClient
from bot.integrations.outbound import statuspage_of, tracker_of
from bot.integrations.pagerduty import PagerDuty, PagerDutyJobs, pagerduty_failure
from bot.integrations.static_page import StaticPage
from bot.integrations.statuspage import StatuspageJobs, statuspage_failure
from bot.integrations.tracker_jobs import TrackerJobs
from bot.integrations.trackers import tracker_failure
from bot.jobs import JobKind, check_handlers
from bot.observability import Metrics, Observe
from bot.services.access import Access
from bot.services.alerts import AlertService
from bot.services.bundle import Services, build_services, check_runbooks
from bot.services.changes import ChangeService
from bot.services.dora import DoraService
from bot.services.followups import Followups
from bot.services.incidents import IncidentService
from bot.services.paging import Paging
from bot.services.postmortems import PostmortemService
from bot.services.queries import IncidentQueries
from bot.services.reports import ReportService
from bot.services.reviews import Reviews
from bot.services.runbooks import RunbookService
from bot.services.schedules import ScheduledReports
from bot.services.tokens import TokenService
from bot.slack import listeners
from bot.slack.changes import SlackChanges
from bot.slack.directory import SlackDirectory
from bot.slack.documents import SlackDocuments
from bot.slack.projector import SlackProjector
from bot.slack.ratelimit import BudgetedWebClient, Calls, LocalCalls, SharedCalls, SlackBudget
from bot.slack.updates import SlackUpdates
from bot.slack.writer import slack_failure, waiting_for_channels
from bot.store import jobs
from bot.store.db import Database
from bot.store.tables import utcnow
from bot.web.docs import pin_docs_assets
from bot.web.routes import InFlight, health_router, slack_router
from bot.web.status import StatusSite, status_router
from bot.worker import GiveUpHook, Worker, composed

log = logging.getLogger(__name__)
SLACK_TIMEOUT = 10  # seconds; a slow Slack must not hold a job lease for long


class SocketMode(AsyncSocketModeHandler):
    """Slack over a WebSocket that warroom opens (SLACK_APP_TOKEN), for a warroom that Slack
    cannot reach over HTTP. Its envelopes are answered by the same bolt app as /slack/events,
    and counted and timed like them, so the worker steps aside for them too."""

    def __init__(self, warroom: Warroom) -> None:
        super().__init__(warroom.bolt, warroom.settings.slack_app_token, web_client=warroom.bolt.client)
        self.warroom = warroom

    async def keep_trying_to_connect(self) -> None:
        """Connect, retrying with backoff: warroom must start, and take alerts, while Slack
        is down. (Once connected, slack_sdk reconnects by itself.)"""
        delay = 1.0
        while True:
            try:
                await self.connect_async()  # type: ignore[no-untyped-call]
                return
            except Exception as exc:  # Slack unreachable, or the app token refused
                log.warning("Socket Mode: could not connect (%s); trying again in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        observability.request_id.set(req.envelope_id)
        observability.incident.set(None)
        waiting, began = self.warroom.waiting_requests, time.perf_counter()
        try:
            with waiting.holding():
                await super().handle(client, req)
        finally:
            self.warroom.metrics.ack.observe(time.perf_counter() - began)


@dataclass
class Warroom:
    settings: Settings
    config: WarroomConfig
    db: Database
    service: IncidentService
    queries: IncidentQueries
    paging: Paging
    alerts: AlertService
    runbooks: RunbookService
    postmortems: PostmortemService
    reports: ReportService
    tokens: TokenService
    reviews: Reviews
    schedules: ScheduledReports
    followups: Followups
    changes: ChangeService
    dora: DoraService
    worker: Worker
    slack: BudgetedWebClient
    bolt: AsyncApp
    http: FastAPI
    waiting_requests: InFlight
    metrics: Metrics
    services: Services

    async def open_connections(self) -> None:
        """One pooled HTTP session for every Slack call (slack_sdk opens one per call otherwise)."""
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT))
        self.slack.session = session
        self.bolt.client.session = session

    async def run_worker(self) -> None:
        """Run jobs until cancelled, woken by commits in this or any other process. A starting
        worker makes sure the next scheduled report is scheduled (once, whatever the replicas)."""
        await self.schedules.ensure()
        async with jobs.notifications(self.db, self.worker.notify):
            await self.worker.run_forever()

    async def close(self) -> None:
        session = self.slack.session
        self.slack.session = self.bolt.client.session = None
        if session is not None:
            await session.close()
        await self.db.dispose()


def build(
    settings: Settings,
    config: WarroomConfig | None = None,
    *,
    run_worker: bool = True,
    migrate: bool = True,
    pagerduty_transport: httpx2.BaseTransport | None = None,
) -> Warroom:
    config = config or load_config(settings.warroom_config or None)
    db = Database(settings.database_url, pool_size=settings.database_pool_size)
    waiting_requests = InFlight()
    metrics = Metrics()
    worker = Worker(
        db,
        {},
        retry_policy=composed(
            slack_failure, pagerduty_failure, tracker_failure, action_failure, statuspage_failure
        ),
        yield_to=waiting_requests.__bool__,
        on_outcome=metrics.job_finished,
        lease=timedelta(seconds=settings.job_lease_seconds),
    )
    slack = _slack_client(settings, db)

    async def usergroup_members(group: str) -> set[str]:
        return set((await slack.usergroups_users_list(usergroup=group)).get("users", []))

    access = Access(config.access, usergroup_members, limits=config.limits)
    s = build_services(settings, config, db, notify=worker.notify, access=access)
    check_runbooks(s.runbooks.library, config)
    pagerduty = PagerDuty(settings, config.pagerduty.services, transport=pagerduty_transport)
    projector = SlackProjector(slack, s, config)
    slack_jobs: list[SlackProjector | SlackDocuments | SlackChanges | SlackDirectory | SlackUpdates] = [
        projector,
        SlackDocuments(projector, s, config),
        SlackChanges(projector, s, config),
        SlackDirectory(slack, s.people),
        SlackUpdates(projector, s),
    ]
    trackers = TrackerJobs(tracker_of(settings, config), s, config)
    actions = ActionJobs(
        s,
        GuardedClient(config.actions.policy, max_answer_bytes=config.actions.max_answer_bytes),
        os.environ,  # an action's ${NAME} is read when it runs: a rotated secret needs no restart
        lease_seconds=settings.job_lease_seconds,
    )
    _wire_jobs(
        worker,
        slack_jobs,
        [
            PagerDutyJobs(pagerduty, slack, s),
            trackers,
            actions,
            StaticPage(s.status_page, settings.status_page_dir, config),
            StatuspageJobs(statuspage_of(settings), s, config),
        ],
        s,
        on_give_up=projector.on_give_up,
    )
    bolt = _bolt(settings)
    listeners.register(bolt, s, config)
    warroom = Warroom(
        settings,
        config,
        db,
        s.incidents,
        s.queries,
        s.paging,
        s.alerts,
        s.runbooks,
        s.postmortems,
        s.reports,
        s.tokens,
        s.reviews,
        s.schedules,
        s.followups,
        s.changes,
        s.dora,
        worker,
        slack,
        bolt,
        FastAPI(),
        waiting_requests,
        metrics,
        s,
    )
    warroom.http = _http(warroom, run_worker=run_worker, migrate=migrate)
    return warroom


def _slack_client(settings: Settings, db: Database) -> BudgetedWebClient:
    """The one Slack client the jobs call through, spending Slack's rate budgets: one budget
    for every replica on PostgreSQL, this process's own on SQLite."""
    period = settings.slack_rate_period
    calls: Calls = (
        LocalCalls(period=period, line=jobs.WaitingLine(db))
        if db.is_sqlite
        else SharedCalls(db, period=period)
    )
    return BudgetedWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT,
        budget=SlackBudget(calls, period=period, share=settings.slack_rate_share),
    )


def _wire_jobs(
    worker: Worker,
    slack_jobs: list[SlackProjector | SlackDocuments | SlackChanges | SlackDirectory | SlackUpdates],
    outbound: list[PagerDutyJobs | TrackerJobs | ActionJobs | StaticPage | StatuspageJobs],
    s: Services,
    *,
    on_give_up: GiveUpHook,
) -> None:
    """Every JobKind to its handler; a kind without one stops start-up, named."""
    for handlers in slack_jobs:
        worker.handlers.update(waiting_for_channels(handlers.handlers(), worker.db))
    worker.handlers.update(
        {
            JobKind.REMINDER_STATUS_UPDATE: s.reminders.remind_status_update,
            JobKind.REMINDER_RUNBOOK_STEP: s.reminders.remind_step,
            JobKind.POSTMORTEM_GENERATE: s.postmortems.generate_job,
            JobKind.REMINDER_POSTMORTEM: s.reviews.remind,
            JobKind.REMINDER_FOLLOWUP: s.followups.remind,
            JobKind.REPORT_SCHEDULED: s.schedules.run,
        }
    )
    for jobs_of in outbound:
        worker.handlers.update(jobs_of.handlers())
    check_handlers(worker.handlers)
    worker.on_give_up = on_give_up


def _bolt(settings: Settings) -> AsyncApp:
    async def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        # A static token needs no auth.test per request: commands keep working while Slack's
        # API is down, because everything they do is committed to the database first.
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=settings.slack_bot_token
        )

    return AsyncApp(
        signing_secret=settings.slack_signing_secret,
        client=AsyncWebClient(base_url=settings.slack_api_url, timeout=SLACK_TIMEOUT),
        authorize=authorize,
        process_before_response=True,  # answer Slack only after the change is committed
        # /slack/events checks the signature (and replays) before bolt sees the request
        # (bot/web/guard.py); Socket Mode needs none. Bolt need not check it a second time.
        request_verification_enabled=False,
        ignoring_self_events_enabled=False,  # needs auth.test per request; we subscribe to no message events
    )


def build_app(settings: Settings, *, run_worker: bool = True) -> FastAPI:
    return build(settings, run_worker=run_worker).http


def _lifespan(
    warroom: Warroom, *, run_worker: bool, migrate: bool
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Start: migrations, the pooled Slack session, the worker, Socket Mode. Stop: the same,
    in reverse."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await warroom.db.migrate()
        await warroom.open_connections()
        # Everything built so far lives as long as the process: keep the garbage collector
        # from scanning it again and again (shorter pauses under load).
        gc.freeze()
        task = asyncio.create_task(warroom.run_worker()) if run_worker else None
        socket = SocketMode(warroom) if warroom.settings.slack_app_token else None
        connecting = asyncio.create_task(socket.keep_trying_to_connect()) if socket else None
        try:
            yield
        finally:
            if socket is not None and connecting is not None:
                connecting.cancel()
                await socket.close_async()  # type: ignore[no-untyped-call]
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await warroom.close()

    return lifespan


def _http(warroom: Warroom, *, run_worker: bool, migrate: bool) -> FastAPI:
    docs = warroom.config.api.docs  # off unless asked for: the schema describes every route
    app = FastAPI(
        title="warroom",
        version="0.1.0",
        lifespan=_lifespan(warroom, run_worker=run_worker, migrate=migrate),
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.warroom = warroom
    if docs:  # a pinned copy of the page's script, never a floating CDN version
        pin_docs_assets(app)
    if hosts := warroom.settings.allowed_host_list:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    app.add_middleware(Observe, metrics=warroom.metrics)
    app.include_router(slack_router(warroom.bolt, warroom.settings, warroom.waiting_requests))
    app.include_router(
        health_router(warroom.db, warroom.slack, warroom.queries, warroom.metrics, warroom.settings)
    )
    app.include_router(status_router(StatusSite(warroom.services.status_page)))
    services = (warroom.service, warroom.queries, warroom.followups, warroom.reports, warroom.tokens)
    api.install(
        app,
        api.ApiServices(
            *services, warroom.config.api, warroom.changes, warroom.dora, warroom.services.availability
        ),
    )
    webhooks.install(
        app,
        webhooks.WebhookServices(
            warroom.alerts,
            warroom.settings,
            utcnow,
            warroom.metrics,
            warroom.waiting_requests,
            warroom.config.limits.webhook_deliveries,
            warroom.followups,
            warroom.config,
            warroom.changes,
        ),
    )
    return app
