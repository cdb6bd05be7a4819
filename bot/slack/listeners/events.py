"""Events API: :pushpin: reactions and the App Home tab. Each delivery counts once (event_id)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.services.bundle import Services


def register(app: AsyncApp, services: Services) -> None:
    projection, queries = services.projection, services.queries

    @app.event("reaction_added")
    async def reaction_added(body: dict[str, Any], event: dict[str, Any]) -> None:
        item = event.get("item", {})
        if event.get("reaction") != "pushpin" or item.get("type") != "message":
            return
        incident = await queries.by_channel(item.get("channel", ""))
        if incident is None or incident.number is None:
            return
        await projection.request_pin(
            incident.number,
            channel=item["channel"],
            ts=item["ts"],
            user=event["user"],
            delivery=f"event:{body['event_id']}",
        )

    @app.event("app_home_opened")
    async def app_home_opened(body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            await projection.request_home(event["user"], delivery=f"event:{body['event_id']}")
