"""Bolt listeners: parse what Slack sent, call one service method, answer. Nothing more.

Each module holds named callbacks and a `register(app, config)` that attaches them; the
services reach them through bolt's context (one middleware puts them there)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.config import WarroomConfig
from bot.services.bundle import Services
from bot.slack.listeners.kit import CONFIG, SERVICES, failure_text


def register(app: AsyncApp, services: Services, config: WarroomConfig) -> None:
    from bot.slack.listeners import actions, commands, events, views
    from bot.slack.listeners import runbooks as checklist

    async def with_services(context: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        context[SERVICES], context[CONFIG] = services, config
        await next()

    app.use(with_services)
    commands.register(app, services, config)
    actions.register(app)
    views.register(app)
    checklist.register(app)
    events.register(app)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        failure_text(error)
