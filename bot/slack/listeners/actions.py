"""Buttons on the pinned incident summary."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.incident import COMMANDER, DomainError, Status
from bot.services.bundle import Services
from bot.slack import blocks
from bot.slack.ids import Action
from bot.slack.listeners import click_channel, failure_text, incident_number
from bot.store.tables import Incident


def triage_value(value: object) -> tuple[str, str]:
    """The alert a triage post's Declare button names."""
    try:
        which = json.loads(str(value))
        source, fingerprint = which["source"], which["fingerprint"]
    except (ValueError, TypeError, KeyError):
        raise DomainError("That button is not one of warroom's buttons.") from None
    if not isinstance(source, str) or not isinstance(fingerprint, str):
        raise DomainError("That button is not one of warroom's buttons.")
    return source, fingerprint


def _n(incident: Incident) -> int:
    assert incident.number is not None
    return incident.number


def register(app: AsyncApp, services: Services) -> None:
    service, queries, alerts = services.incidents, services.queries, services.alerts

    async def answer(respond: Any, text: str) -> None:
        await respond(text=text, response_type="ephemeral", replace_original=False)

    @app.action(Action.TAKE_COMMANDER)
    async def take_commander(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        user = body["user"]["id"]
        try:
            incident = await queries.acted_on(incident_number(action.get("value")), user, click_channel(body))
            await service.assign_role(_n(incident), COMMANDER, user, user)
        except DomainError as exc:
            await answer(respond, f":warning: {exc}")
        except Exception as exc:
            await answer(respond, failure_text(exc))

    async def open_form(
        body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any, form: str
    ) -> None:
        try:
            incident = await queries.acted_on(
                incident_number(action.get("value")), body["user"]["id"], click_channel(body)
            )
            if incident.status == Status.CLOSED:
                raise DomainError(f"Incident #{incident.number} is closed.")
            view = blocks.status_modal(incident) if form == "status" else blocks.resolve_modal(incident)
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        except DomainError as exc:
            await answer(respond, f":warning: {exc}")
        except SlackApiError as exc:
            await answer(
                respond,
                f":warning: Slack did not open the form ({exc.response.get('error')}); please try again.",
            )
        except Exception as exc:
            await answer(respond, failure_text(exc))

    @app.action(Action.OPEN_STATUS)
    async def open_status(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any
    ) -> None:
        await ack()
        await open_form(body, action, client, respond, "status")

    @app.action(Action.OPEN_RESOLVE)
    async def open_resolve(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any
    ) -> None:
        await ack()
        await open_form(body, action, client, respond, "resolve")

    @app.action(Action.DECLARE_FROM_ALERT)
    async def declare_from_alert(
        ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        await ack()
        user = body["user"]["id"]
        try:
            source, fingerprint = triage_value(action.get("value"))
            incident = await alerts.declare_from_triage(source, fingerprint, user)
        except DomainError as exc:
            await answer(respond, f":warning: {exc}")
            return
        except Exception as exc:
            await answer(respond, failure_text(exc))
            return
        await respond(
            text=f":rotating_light: <@{user}> declared *#{incident.number}* from this alert.",
            response_type="in_channel",
            replace_original=True,
        )
