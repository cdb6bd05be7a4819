"""Modal submissions: declare, status update, resolve, follow-up, stakeholder update.

Validation problems go back to the form (response_action=errors) next to the field at fault.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain.followups import DEFAULT_PRIORITY, FollowUpRequest
from bot.domain.incident import Status, parse_status
from bot.domain.status import Audience, ComponentState, UpdateDraft, named
from bot.slack.ids import PRIVATE_CHOICE, Field, Form, component_block
from bot.slack.listeners.kit import config, incident_number, reply_to, services


def field(view: dict[str, Any], block_id: str) -> str | None:
    """The value of one input of a submitted view (text, select or user)."""
    state = view.get("state", {}).get("values", {}).get(block_id, {}).get("value")
    if not state:
        return None
    if state.get("selected_option"):
        return str(state["selected_option"]["value"])
    return state.get("selected_user") or state.get("selected_date") or state.get("value") or None


def checked(view: dict[str, Any], block_id: str) -> set[str]:
    """The values ticked in a checkboxes input of a submitted view."""
    state = view.get("state", {}).get("values", {}).get(block_id, {}).get("value") or {}
    return {str(option["value"]) for option in state.get("selected_options") or []}


async def submitted(ack: Any, block_id: str, work: Callable[[], Awaitable[object]]) -> None:
    """Run a form's service call; a refusal (or an internal error) goes back to the form,
    next to the field at fault."""
    try:
        await work()
    except Exception as exc:
        await ack(response_action="errors", errors={block_id: reply_to(exc, on_form=True)})
        return
    await ack()


async def form_incident(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any], block_id: str
) -> int | None:
    """The incident the form was opened for, if the submitter may act on it."""
    try:
        number = incident_number(view.get("private_metadata"), "form")
        await services(context).queries.acted_on(number, body["user"]["id"], None)
    except Exception as exc:
        await ack(response_action="errors", errors={block_id: reply_to(exc, on_form=True)})
        return None
    return number


async def declare(ack: Any, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]) -> None:
    user = body["user"]["id"]
    await submitted(
        ack,
        Field.TITLE,
        lambda: services(context).incidents.declare(
            title=field(view, Field.TITLE) or "",
            severity=field(view, Field.SEVERITY),
            reporter=user,
            commander=field(view, Field.COMMANDER) or user,
            description=field(view, Field.DESCRIPTION),
            declare_key=f"view:{view['id']}",
            private=PRIVATE_CHOICE in checked(view, Field.PRIVATE),
        ),
    )


async def status_update(
    ack: Any, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]
) -> None:
    if (number := await form_incident(ack, body, view, context, Field.STATUS)) is None:
        return
    chosen = field(view, Field.STATUS)
    if chosen is None:
        await ack(
            response_action="errors", errors={Field.MESSAGE: "This incident cannot change status from here."}
        )
        return
    message = field(view, Field.MESSAGE)
    await submitted(
        ack,
        Field.STATUS,
        lambda: services(context).incidents.change_status(
            number, parse_status(chosen), body["user"]["id"], message
        ),
    )


async def resolve(ack: Any, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]) -> None:
    summary = (field(view, Field.SUMMARY) or "").strip()
    if not summary:
        await ack(response_action="errors", errors={Field.SUMMARY: "Say in a sentence what fixed it."})
        return
    if (number := await form_incident(ack, body, view, context, Field.SUMMARY)) is None:
        return
    final = (field(view, Field.FINAL_UPDATE) or "").strip()
    await submitted(
        ack,
        Field.SUMMARY,
        lambda: services(context).incidents.change_status(
            number, Status.RESOLVED, body["user"]["id"], summary, final_update=final or False
        ),
    )


async def update(ack: Any, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]) -> None:
    if (number := await form_incident(ack, body, view, context, Field.MESSAGE)) is None:
        return
    updates = services(context).updates
    chosen = {
        name: ComponentState(value)
        for name in config(context).status_page.names
        if (value := field(view, component_block(name)))
    }
    draft = UpdateDraft(
        field(view, Field.MESSAGE) or "",
        Audience(field(view, Field.AUDIENCE) or Audience.INTERNAL),
        named(chosen, await updates.current_states(number)),
        field(view, Field.PUBLIC_TITLE),
    )
    await submitted(ack, Field.MESSAGE, lambda: updates.post(number, draft, body["user"]["id"]))


async def followup(ack: Any, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]) -> None:
    if (number := await form_incident(ack, body, view, context, Field.TITLE)) is None:
        return
    due = field(view, Field.DUE)
    request = FollowUpRequest(
        field(view, Field.TITLE) or "",
        field(view, Field.OWNER),
        field(view, Field.PRIORITY) or DEFAULT_PRIORITY,
        date.fromisoformat(due) if due else None,
    )
    block = Field.DUE if due else Field.TITLE  # a day in the past is refused next to the date
    await submitted(ack, block, lambda: services(context).followups.add(number, request, body["user"]["id"]))


def register(app: AsyncApp) -> None:
    app.view(Form.DECLARE)(declare)
    app.view(Form.STATUS)(status_update)
    app.view(Form.RESOLVE)(resolve)
    app.view(Form.FOLLOWUP)(followup)
    app.view(Form.UPDATE)(update)
