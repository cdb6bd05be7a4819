"""PagerDuty through the official client: who is on call, page a service, resolve a page.

The client is synchronous (httpx2), so every call runs on a worker thread; these are only
ever called from jobs, never on a Slack request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pagerduty
from pagerduty.errors import ServerHttpError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import PagerDutyService, Settings
from bot.jobs import Handler, JobKind
from bot.services.bundle import Services
from bot.worker import TRANSIENT, Retry


class PagerDutyNotConfigured(Exception):
    pass


class PagerDuty:
    def __init__(
        self,
        settings: Settings,
        services: dict[str, PagerDutyService],
        *,
        transport: httpx2.BaseTransport | None = None,  # tests put a fake PagerDuty here
    ) -> None:
        self.settings = settings
        self.services = services
        self.transport = transport

    def _options(self) -> dict[str, Any]:
        return {"transport": self.transport} if self.transport is not None else {}

    @property
    def rest_enabled(self) -> bool:
        return bool(self.settings.pagerduty_api_token)

    def escalation_policy(self, service: str | None) -> str | None:
        return self.services[service].escalation_policy if service in self.services else None

    async def on_call_emails(self, escalation_policy: str) -> list[str]:
        """Emails of whoever is on call for the policy, lowest escalation level first."""
        if not self.rest_enabled:
            raise PagerDutyNotConfigured("PAGERDUTY_API_TOKEN is not set")

        def lookup() -> list[str]:
            client = pagerduty.RestApiV2Client(
                self.settings.pagerduty_api_token, base_url=self.settings.pagerduty_api_url, **self._options()
            )
            try:
                params: dict[str, Any] = {
                    "escalation_policy_ids[]": [escalation_policy],
                    "include[]": ["users"],
                }
                entries = sorted(
                    client.iter_all("oncalls", params=params), key=lambda e: e.get("escalation_level", 99)
                )
            finally:
                client.close()
            emails: list[str] = []
            for entry in entries:
                email = (entry.get("user") or {}).get("email")
                if email and email not in emails:
                    emails.append(email)
            return emails

        return await asyncio.to_thread(lookup)

    async def trigger(
        self, routing_key: str, dedup_key: str, summary: str, severity: str, links: list[str]
    ) -> None:
        def send() -> None:
            client = pagerduty.EventsApiV2Client(
                routing_key, base_url=self.settings.pagerduty_events_url, **self._options()
            )
            try:
                client.send_event(
                    "trigger",
                    dedup_key=dedup_key,
                    payload={"summary": summary[:1024], "source": "warroom", "severity": severity},
                    links=[{"href": link, "text": "Slack"} for link in links],
                )
            finally:
                client.close()

        await asyncio.to_thread(send)

    async def resolve(self, routing_key: str, dedup_key: str) -> None:
        def send() -> None:
            client = pagerduty.EventsApiV2Client(
                routing_key, base_url=self.settings.pagerduty_events_url, **self._options()
            )
            try:
                client.resolve(dedup_key)
            finally:
                client.close()

        await asyncio.to_thread(send)


SEVERITY_TO_PAGERDUTY = {"SEV1": "critical", "SEV2": "error", "SEV3": "warning", "SEV4": "info"}


def pagerduty_failure(exc: BaseException) -> Retry | None:
    """PagerDuty down or unreachable: how the worker retries its jobs."""
    return TRANSIENT if isinstance(exc, ServerHttpError | httpx2.TransportError) else None


class PagerDutyJobs:
    """Job handlers: on-call people into the incident, pages out, pages resolved."""

    def __init__(self, pd: PagerDuty, slack: AsyncWebClient, services: Services) -> None:
        self.pd = pd
        self.slack = slack
        self.service = services.incidents
        self.queries = services.queries
        self.paging = services.paging

    def handlers(self) -> dict[str, Handler]:
        return {
            JobKind.PAGERDUTY_ONCALL: self.oncall,
            JobKind.PAGERDUTY_TRIGGER: self.trigger,
            JobKind.PAGERDUTY_RESOLVE: self.resolve,
        }

    async def oncall(self, payload: dict[str, Any]) -> None:
        number = payload["incident"]
        incident = await self.queries.get(number)
        policy = self.pd.escalation_policy(incident.service)
        if policy is None:
            return
        users: list[str] = []
        unknown: list[str] = []
        for email in await self.pd.on_call_emails(policy):
            try:
                found = await self.slack.users_lookupByEmail(email=email)
                users.append(str(found["user"]["id"]))
            except SlackApiError as exc:
                if exc.response.get("error") != "users_not_found":
                    raise
                unknown.append(email)
        await self.service.add_responders(
            number, users, unknown, source=f"PagerDuty on-call for {incident.service}"
        )

    async def trigger(self, payload: dict[str, Any]) -> None:
        incident = await self.queries.get(payload["incident"])
        page = next(
            (p for p in await self.paging.open_pages(payload["incident"]) if p.id == payload["page"]), None
        )
        if page is None:
            return  # resolved before it went out
        summary = f"warroom #{incident.number} {incident.severity}: {incident.title}"
        severity = SEVERITY_TO_PAGERDUTY.get(incident.severity, "error")
        await self.pd.trigger(payload["routing_key"], page.dedup_key, summary, severity, [])

    async def resolve(self, payload: dict[str, Any]) -> None:
        for page in await self.paging.open_pages(payload["incident"]):
            routing_key = self.paging.routing_key(page.service)
            if routing_key:
                await self.pd.resolve(routing_key, page.dedup_key)
            assert page.id is not None
            await self.paging.mark_page_resolved(page.id)
