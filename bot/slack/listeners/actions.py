"""Buttons on the pinned incident summary, on triage posts, on the follow-up list and on the
changes message."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.followups import FollowUpState
from bot.domain.incident import COMMANDER, DomainError, Status
from bot.slack import blocks
from bot.slack.ids import Action
from bot.slack.listeners.kit import click_channel, config, incident_number, reply_to, services, tell
from bot.store.tables import Incident, utcnow


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


async def clicked_incident(context: dict[str, Any], body: dict[str, Any], action: dict[str, Any]) -> Incident:
    """The incident a summary button names, if the clicker may act on it from here."""
    number = incident_number(action.get("value"))
    return await services(context).queries.acted_on(number, body["user"]["id"], click_channel(body))


async def take_commander(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, context: dict[str, Any]
) -> None:
    await ack()
    user = body["user"]["id"]
    try:
        incident = await clicked_incident(context, body, action)
        assert incident.number is not None
        await services(context).incidents.assign_role(incident.number, COMMANDER, user, user)
    except Exception as exc:
        await tell(respond, reply_to(exc))


async def open_form(
    ack: Any,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: Any,
    context: dict[str, Any],
) -> None:
    """Update status, or Resolve: the form of the incident whose summary was clicked."""
    await ack()
    try:
        incident = await clicked_incident(context, body, action)
        if incident.status == Status.CLOSED:
            raise DomainError(f"Incident #{incident.number} is closed.")
        status = action.get("action_id") == Action.OPEN_STATUS
        listened = services(context).updates.listened(incident)
        view = (
            blocks.status_modal(incident) if status else blocks.resolve_modal(incident, final_update=listened)
        )
        await client.views_open(trigger_id=body["trigger_id"], view=view)
    except Exception as exc:
        await tell(respond, reply_to(exc))


async def declare_from_alert(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, context: dict[str, Any]
) -> None:
    await ack()
    user = body["user"]["id"]
    try:
        source, fingerprint = triage_value(action.get("value"))
        incident = await services(context).alerts.declare_from_triage(source, fingerprint, user)
    except Exception as exc:
        await tell(respond, reply_to(exc))
        return
    await respond(
        text=f":rotating_light: <@{user}> declared *#{incident.number}* from this alert.",
        response_type="in_channel",
        replace_original=True,
    )


FOLLOWUP_STATES = {
    Action.FOLLOWUP_DONE: FollowUpState.DONE,
    Action.FOLLOWUP_WONT_DO: FollowUpState.WONT_DO,
    Action.FOLLOWUP_REOPEN: FollowUpState.OPEN,
}


async def followup_button(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, context: dict[str, Any]
) -> None:
    """Done, Won't do or Reopen on the follow-up list: only for the incident of this channel;
    the list is then shown again, current."""
    await ack()
    s, user = services(context), body["user"]["id"]
    try:
        incident = await s.queries.by_channel(click_channel(body) or "")
        if incident is None or incident.number is None:
            raise DomainError("Follow-ups are marked from their incident's channel.")
        followup = incident_number(action.get("value"), "button")  # an id, checked the same way
        state = FOLLOWUP_STATES[Action(action["action_id"])]
        await s.followups.close(followup, state, user, number=incident.number)
        items = await s.followups.of_incident(incident.number)
    except Exception as exc:
        await tell(respond, reply_to(exc))
        return
    command = config(context).slash_command
    await respond(
        text=blocks.followups_text(incident, items, command),
        blocks=blocks.followups_blocks(incident, items, command, utcnow()),
        replace_original=True,
    )


async def suspect_change(
    ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, context: dict[str, Any]
) -> None:
    """Suspect on the changes message: links that change as the incident's cause, for the
    incident of this channel only; the message is shown again with the cause marked."""
    await ack()
    s, user = services(context), body["user"]["id"]
    try:
        incident = await s.queries.by_channel(click_channel(body) or "")
        if incident is None or incident.number is None:
            raise DomainError("A change is linked from its incident's channel.")
        change_id = str(action.get("value") or "")[:200]
        incident, _ = await s.changes.link_cause(incident.number, change_id, user)
        found = await s.changes.for_incident(incident)
    except Exception as exc:
        await tell(respond, reply_to(exc))
        return
    lookback = config(context).changes.lookback
    await respond(
        text=blocks.changes_text(incident, found),
        blocks=blocks.changes_blocks(incident, found, lookback),
        replace_original=True,
    )


def register(app: AsyncApp) -> None:
    app.action(Action.SUSPECT_CHANGE)(suspect_change)
    app.action(Action.TAKE_COMMANDER)(take_commander)
    app.action(Action.OPEN_STATUS)(open_form)
    app.action(Action.OPEN_RESOLVE)(open_form)
    app.action(Action.DECLARE_FROM_ALERT)(declare_from_alert)
    for kind in FOLLOWUP_STATES:
        app.action(kind)(followup_button)
