"""What every listener shares: the services (put in bolt's context by one middleware), the
one way a failure becomes an answer, and reading ids out of what Slack sent."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.config import WarroomConfig
from bot.domain.incident import DomainError
from bot.services.bundle import Services

log = logging.getLogger(__name__)
SERVICES, CONFIG = "warroom_services", "warroom_config"  # keys in bolt's context


def services(context: dict[str, Any]) -> Services:
    found: Services = context[SERVICES]
    return found


def config(context: dict[str, Any]) -> WarroomConfig:
    found: WarroomConfig = context[CONFIG]
    return found


def failure_text(exc: BaseException) -> str:
    """What a person sees when warroom itself failed: no stack trace, a reference to find it."""
    reference = uuid.uuid4().hex[:8]
    log.error("request failed (reference %s)", reference, exc_info=exc)
    return f":x: warroom hit an internal error (reference `{reference}`). Please try again; operators can find the details in the log."


def reply_to(exc: BaseException, *, on_form: bool = False) -> str:
    """The answer to a request that could not be done: the rules' refusal as it is worded,
    Slack's refusal to open a form, or an internal error with a reference. On a form (next
    to the field at fault) a refusal carries no emoji and at most 150 characters."""
    if isinstance(exc, DomainError):
        return str(exc)[:150] if on_form else f":warning: {exc}"
    if isinstance(exc, SlackApiError):
        text = f"Slack did not open the form ({exc.response.get('error')}); please try again."
        return text if on_form else f":warning: {text}"
    text = failure_text(exc)
    return text[:150] if on_form else text


async def tell(respond: Any, text: str) -> None:
    """An ephemeral answer to whoever clicked."""
    await respond(text=text, response_type="ephemeral", replace_original=False)


def click_channel(body: dict[str, Any]) -> str | None:
    """The channel a button was clicked in; None for a button on a view (App Home, modal)."""
    channel = body.get("channel") or {}
    return str(channel["id"]) if isinstance(channel, dict) and channel.get("id") else None


def incident_number(value: object, what: str = "button") -> int:
    """The incident number a button (or form) carries, or a refusal, never an internal error."""
    text = str(value or "")
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise DomainError(f"That {what} is not one of warroom's {what}s.")
    return int(text)
