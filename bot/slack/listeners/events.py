"""Events API: :pushpin: reactions, the App Home tab, renamed people, people joining. Each delivery counts once (event_id)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners.kit import services


async def reaction_added(body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]) -> None:
    """A :pushpin: on a message in an incident channel puts it on the timeline (a job)."""
    item = event.get("item", {})
    if event.get("reaction") != "pushpin" or item.get("type") != "message":
        return
    s = services(context)
    incident = await s.queries.by_channel(item.get("channel", ""))
    if incident is None or incident.number is None:
        return
    await s.projection.request_pin(
        incident.number,
        channel=item["channel"],
        ts=item["ts"],
        user=event["user"],
        delivery=f"event:{body['event_id']}",
    )


async def app_home_opened(body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]) -> None:
    if event.get("tab", "home") == "home":
        await services(context).projection.request_home(event["user"], delivery=f"event:{body['event_id']}")


async def member_joined_channel(body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]) -> None:
    """Whoever joins an incident channel (but warroom itself) is shown the catch-up digest."""
    bots = {a.get("user_id") for a in body.get("authorizations", []) if a.get("is_bot")}
    if not event.get("user") or event["user"] in bots:
        return
    s = services(context)
    incident = await s.queries.by_channel(event.get("channel", ""))
    if incident is None or incident.number is None:
        return
    await s.projection.request_catchup(incident.number, event["user"], delivery=f"event:{body['event_id']}")


async def user_change(event: dict[str, Any], context: dict[str, Any]) -> None:
    """A renamed (or deactivated) person: the documents name them anew."""
    if isinstance(event.get("user"), dict) and event["user"].get("id"):
        await services(context).people.record(event["user"])


def register(app: AsyncApp) -> None:
    app.event("reaction_added")(reaction_added)
    app.event("app_home_opened")(app_home_opened)
    app.event("user_change")(user_change)
    app.event("member_joined_channel")(member_joined_channel)
