"""Bolt listeners: parse what Slack sent, call one service method, answer. Nothing more."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.config import WarroomConfig
from bot.domain.incident import DomainError
from bot.services.bundle import Services

log = logging.getLogger(__name__)


def failure_text(exc: BaseException) -> str:
    """What a person sees when warroom itself failed: no stack trace, a reference to find it."""
    reference = uuid.uuid4().hex[:8]
    log.error("request failed (reference %s)", reference, exc_info=exc)
    return f":x: warroom hit an internal error (reference `{reference}`). Please try again; operators can find the details in the log."


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


def register(app: AsyncApp, services: Services, config: WarroomConfig) -> None:
    from bot.slack.listeners import actions, commands, events, views
    from bot.slack.listeners import runbooks as checklist

    commands.register(app, services, config)
    actions.register(app, services)
    views.register(app, services, config)
    checklist.register(app, services)
    events.register(app, services)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        failure_text(error)
