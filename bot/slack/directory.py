"""users.info for the people warroom has seen: the job that gives documents their names
(bot/services/people.py decides who to look up; this only asks Slack and records the answer)."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.jobs import Handler, JobKind
from bot.services.people import People

NO_SUCH_USER = {"user_not_found", "user_not_visible"}


class SlackDirectory:
    def __init__(self, client: AsyncWebClient, people: People) -> None:
        self.client = client
        self.people = people

    def handlers(self) -> dict[str, Handler]:
        return {JobKind.SLACK_LOOKUP_USER: self.lookup_user}

    async def lookup_user(self, payload: dict[str, Any]) -> None:
        try:
            answer = await self.client.users_info(user=payload["user"])
        except SlackApiError as exc:
            if exc.response.get("error") in NO_SUCH_USER:  # not a person we can name: the id stays
                await self.people.unknown(payload["user"])
                return
            raise
        await self.people.record(answer["user"])
