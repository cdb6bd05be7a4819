"""Buttons on the pinned incident summary."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.incident import DomainError, Status
from bot.services.alerts import AlertService
from bot.services.incidents import IncidentService
from bot.slack import blocks
from bot.slack.listeners import failure_text


def register(app: AsyncApp, service: IncidentService, alerts: AlertService) -> None:
    async def answer(respond: Any, text: str) -> None:
        await respond(text=text, response_type="ephemeral", replace_original=False)

    @app.action("take_commander")
    async def take_commander(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        try:
            await service.assign_role(
                int(action["value"]), "commander", body["user"]["id"], body["user"]["id"]
            )
        except DomainError as exc:
            await answer(respond, f":warning: {exc}")
        except Exception as exc:
            await answer(respond, failure_text(exc))

    async def open_form(
        body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any, form: str
    ) -> None:
        try:
            incident = await service.get(int(action["value"]))
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

    @app.action("open_status_modal")
    async def open_status(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any
    ) -> None:
        await ack()
        await open_form(body, action, client, respond, "status")

    @app.action("open_resolve_modal")
    async def open_resolve(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Any
    ) -> None:
        await ack()
        await open_form(body, action, client, respond, "resolve")

    @app.action("declare_from_alert")
    async def declare_from_alert(
        ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        await ack()
        user = body["user"]["id"]
        try:
            which = json.loads(action["value"])
            incident = await alerts.declare_from_triage(which["source"], which["fingerprint"], user)
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
