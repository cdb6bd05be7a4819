"""Events API: :pushpin: reactions and the App Home tab. Each delivery counts once (event_id)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.services.incidents import IncidentService


def register(app: AsyncApp, service: IncidentService) -> None:
    @app.event("reaction_added")
    async def reaction_added(body: dict[str, Any], event: dict[str, Any]) -> None:
        item = event.get("item", {})
        if event.get("reaction") != "pushpin" or item.get("type") != "message":
            return
        incident = await service.by_channel(item.get("channel", ""))
        if incident is None or incident.number is None:
            return
        await service.request_pin(
            incident.number,
            channel=item["channel"],
            ts=item["ts"],
            user=event["user"],
            delivery=f"event:{body['event_id']}",
        )

    @app.event("app_home_opened")
    async def app_home_opened(body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            await service.request_home(event["user"], delivery=f"event:{body['event_id']}")
