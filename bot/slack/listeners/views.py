"""Modal submissions: declare, status update, resolve.

Validation problems go back to the form (response_action=errors) next to the field at fault.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.config import WarroomConfig
from bot.domain.incident import DomainError, Status, parse_status
from bot.services.bundle import Services
from bot.slack.ids import PRIVATE_CHOICE, Field, Form
from bot.slack.listeners import failure_text, incident_number


def field(view: dict[str, Any], block_id: str) -> str | None:
    """The value of one input of a submitted view (text, select or user)."""
    state = view.get("state", {}).get("values", {}).get(block_id, {}).get("value")
    if not state:
        return None
    if state.get("selected_option"):
        return str(state["selected_option"]["value"])
    return state.get("selected_user") or state.get("value") or None


def checked(view: dict[str, Any], block_id: str) -> set[str]:
    """The values ticked in a checkboxes input of a submitted view."""
    state = view.get("state", {}).get("values", {}).get(block_id, {}).get("value") or {}
    return {str(option["value"]) for option in state.get("selected_options") or []}


def register(app: AsyncApp, services: Services, config: WarroomConfig) -> None:
    service, queries = services.incidents, services.queries

    async def submit(ack: Any, block_id: str, action: Any) -> None:
        """Run the service call; show a refusal on the form, an internal error as well."""
        try:
            await action()
        except DomainError as exc:
            await ack(response_action="errors", errors={block_id: str(exc)[:150]})
            return
        except Exception as exc:
            await ack(response_action="errors", errors={block_id: failure_text(exc)[:150]})
            return
        await ack()

    @app.view(Form.DECLARE)
    async def declare(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        await submit(
            ack,
            "title",
            lambda: service.declare(
                title=field(view, Field.TITLE) or "",
                severity=field(view, Field.SEVERITY),
                reporter=user,
                commander=field(view, Field.COMMANDER) or user,
                description=field(view, Field.DESCRIPTION),
                declare_key=f"view:{view['id']}",
                private=PRIVATE_CHOICE in checked(view, Field.PRIVATE),
            ),
        )

    async def acted_on(ack: Any, body: dict[str, Any], view: dict[str, Any], block_id: str) -> int | None:
        """The incident the form was opened for, if the submitter may act on it."""
        try:
            number = incident_number(view.get("private_metadata"), "form")
            await queries.acted_on(number, body["user"]["id"], None)
        except DomainError as exc:
            await ack(response_action="errors", errors={block_id: str(exc)[:150]})
            return None
        return number

    @app.view(Form.STATUS)
    async def status_update(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        if (number := await acted_on(ack, body, view, "status")) is None:
            return
        chosen = field(view, Field.STATUS)
        if chosen is None:
            await ack(
                response_action="errors",
                errors={Field.MESSAGE: "This incident cannot change status from here."},
            )
            return
        await submit(
            ack,
            "status",
            lambda: service.change_status(
                number, parse_status(chosen), body["user"]["id"], field(view, Field.MESSAGE)
            ),
        )

    @app.view(Form.RESOLVE)
    async def resolve(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        summary = (field(view, Field.SUMMARY) or "").strip()
        if not summary:
            await ack(response_action="errors", errors={Field.SUMMARY: "Say in a sentence what fixed it."})
            return
        if (number := await acted_on(ack, body, view, "summary")) is None:
            return
        await submit(
            ack,
            "summary",
            lambda: service.change_status(number, Status.RESOLVED, body["user"]["id"], summary),
        )
