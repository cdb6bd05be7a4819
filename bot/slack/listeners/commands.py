"""The /incident slash command."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import WarroomConfig, parse_duration
from bot.domain.followups import parse_followup
from bot.domain.incident import DomainError, parse_status
from bot.domain.metrics import MAX_PERIOD
from bot.domain.status import Audience, UpdateDraft
from bot.services.bundle import Services
from bot.services.catchup import catchup
from bot.slack import blocks
from bot.slack.listeners.kit import reply_to
from bot.slack.text import escape, parse_declare, parse_user, split_command, take_service
from bot.store.tables import Incident, utcnow

Reply = str | dict[str, Any] | None  # text, or a message (text and blocks), answered only to the asker
REPORT_DEFAULT_PERIOD = "30d"
REPORT_MIN_PERIOD, REPORT_MAX_PERIOD = timedelta(days=1), MAX_PERIOD


class Commands:
    def __init__(self, services: Services, config: WarroomConfig) -> None:
        self.service = services.incidents
        self.queries = services.queries
        self.paging = services.paging
        self.runbooks = services.runbooks
        self.postmortems = services.postmortems
        self.reports = services.reports
        self.reviews = services.reviews
        self.followups = services.followups
        self.changes = services.changes
        self.updates = services.updates
        self.config = config
        self.anywhere: dict[str, Callable[[str, dict[str, Any], AsyncWebClient], Awaitable[Reply]]] = {
            "declare": self.declare,
            "drill": self.drill,
            "list": self.list,
            "report": self.report,
            "help": self.help,
        }
        self.in_channel: dict[
            str, Callable[[Incident, str, dict[str, Any], AsyncWebClient], Awaitable[Reply]]
        ] = {
            "status": self.status,
            "sev": self.severity,
            "role": self.role,
            "note": self.note,
            "timeline": self.timeline,
            "catchup": self.catchup,
            "resolve": self.resolve,
            "close": self.close,
            "page": self.page,
            "runbook": self.runbook,
            "update": self.update,
            "followup": self.followup,
            "followups": self.followups_list,
            "postmortem": self.postmortem,
            "changes": self.changes_list,
            "cause": self.cause,
        }

    async def handle(self, ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        sub, rest = split_command(command.get("text", ""))
        try:
            reply = await self.dispatch(sub, rest, command, client)
        except Exception as exc:
            reply = reply_to(exc)
        if isinstance(reply, dict):
            await ack(**reply, response_type="ephemeral")
        elif reply:
            await ack(text=reply, response_type="ephemeral")
        else:
            await ack()

    async def dispatch(self, sub: str, rest: str, command: dict[str, Any], client: AsyncWebClient) -> Reply:
        if sub == "":
            return await self.open_modal(
                client, command["trigger_id"], blocks.declare_modal(self.config, command["channel_id"])
            )
        if sub in self.anywhere:
            return await self.anywhere[sub](rest, command, client)
        if sub in self.in_channel:
            incident = await self.queries.by_channel(command["channel_id"])
            if incident is None:
                raise DomainError(
                    f"`{sub}` works inside an incident channel. `{self.config.slash_command} list` shows the open ones."
                )
            return await self.in_channel[sub](incident, rest, command, client)
        known = ", ".join([*self.anywhere, *self.in_channel])
        raise DomainError(
            f"Unknown command `{escape(sub[:30])}`. Commands: {known}. `{self.config.slash_command} help` explains them."
        )

    async def open_modal(self, client: AsyncWebClient, trigger_id: str, view: dict[str, Any]) -> Reply:
        await client.views_open(trigger_id=trigger_id, view=view)  # a refusal: see reply_to
        return None

    # ------------------------------------------------------------ anywhere

    async def declare(self, rest: str, command: dict[str, Any], client: AsyncWebClient) -> Reply:
        first, _, after = rest.strip().partition(" ")
        private = first.lower() == "private"  # `declare private sev1 TITLE`
        severity, text = parse_declare(after if private else rest, self.config.severity_names)
        service, title = take_service(text)  # `declare sev2 service:checkout TITLE`
        user = command["user_id"]
        incident = await self.service.declare(
            title=title, severity=severity, reporter=user, commander=user, private=private, service=service
        )
        where = "A private channel" if private else "The incident channel"
        return (
            f":rotating_light: Declared *#{incident.number}* {incident.severity}: {escape(incident.title)}. "
            f"{where} is on its way and you are its commander."
        )

    async def drill(self, rest: str, command: dict[str, Any], client: AsyncWebClient) -> Reply:
        if not rest:
            names = ", ".join(f"`{f.runbook.name}`" for f in self.runbooks.library.all()) or "none yet"
            raise DomainError(
                f"Which runbook? `{self.config.slash_command} drill RUNBOOK`. Runbooks: {names}."
            )
        incident = await self.service.declare_drill(rest, command["user_id"])
        return (
            f":performing_arts: Drill *#{incident.number}* declared: an exercise of `{escape(rest.strip())}`. "
            "It pages nobody and stays out of the metrics; the channel is on its way."
        )

    async def list(self, rest: str, command: dict[str, Any], client: AsyncWebClient) -> Reply:
        incidents = await self.queries.list_incidents(open_only=True, viewer=command["user_id"])
        roles = await self.queries.roles([i.number for i in incidents if i.number is not None])
        return blocks.list_text(incidents, roles)

    async def report(self, rest: str, command: dict[str, Any], client: AsyncWebClient) -> Reply:
        try:
            since = parse_duration(rest or REPORT_DEFAULT_PERIOD)
        except ValueError:
            raise DomainError(
                f"`report {escape(rest)}`: give the period as days, like `report 30d` (default 30d)."
            ) from None
        if not REPORT_MIN_PERIOD <= since <= REPORT_MAX_PERIOD:
            raise DomainError("Choose a period from 1d to 3650d, like `report 30d`.")
        await self.reports.request_slack_report(
            command["channel_id"], since, command["user_id"], command.get("response_url")
        )
        return f"Working on the MTTR report of the last {escape(rest or REPORT_DEFAULT_PERIOD)}: it will appear here."

    async def help(self, rest: str, command: dict[str, Any], client: AsyncWebClient) -> Reply:
        return blocks.help_text(self.config.slash_command, self.config)

    # ------------------------------------------------------------ in an incident channel

    async def status(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        if not rest:
            return await self.open_modal(client, command["trigger_id"], blocks.status_modal(incident))
        word, _, message = rest.partition(" ")
        await self.service.change_status(
            _n(incident), parse_status(word), command["user_id"], message or None
        )
        return None

    async def severity(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        if not rest:
            raise DomainError(f"Which severity? For example `{self.config.slash_command} sev 1`.")
        await self.service.change_severity(_n(incident), rest, command["user_id"])
        return None

    async def role(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        role, _, who = rest.partition(" ")
        if not role or not who:
            raise DomainError(
                f"Usage: `{self.config.slash_command} role {'|'.join(self.config.role_names)} @user`."
            )
        await self.service.assign_role(_n(incident), role.lower(), parse_user(who), command["user_id"])
        return None

    async def note(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        await self.service.add_note(_n(incident), rest, command["user_id"])
        return None

    async def timeline(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        return blocks.timeline_text(incident, await self.queries.timeline(_n(incident)))

    async def catchup(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        return blocks.catchup_text(await catchup(self.queries.db, _n(incident), self.changes), utcnow())

    async def resolve(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        if not rest:
            view = blocks.resolve_modal(incident, final_update=self.updates.listened(incident))
            return await self.open_modal(client, command["trigger_id"], view)
        await self.service.resolve(_n(incident), command["user_id"], rest)
        return None

    async def update(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        """With no text, the form; `update [public] MESSAGE` sends one without naming components."""
        if not rest.strip():
            states = await self.updates.current_states(_n(incident))
            view = blocks.update_modal(incident, self.config, states)
            return await self.open_modal(client, command["trigger_id"], view)
        first, _, after = rest.strip().partition(" ")
        public = first.lower() == Audience.PUBLIC and after.strip()
        draft = UpdateDraft(after if public else rest, Audience.PUBLIC if public else Audience.INTERNAL)
        await self.updates.post(_n(incident), draft, command["user_id"])
        return None

    async def page(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        target = rest.strip()
        if not target:
            raise DomainError(
                f"Who? `{self.config.slash_command} page SERVICE` or `{self.config.slash_command} page @user`."
            )
        if target.startswith("<@"):
            await self.service.page_user(_n(incident), parse_user(target), command["user_id"])
            return None
        await self.paging.page_service(_n(incident), target, command["user_id"])
        return f":pager: Paging `{escape(target.lower())}` through PagerDuty."

    async def runbook(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        if rest:
            return await self.runbooks.attach(_n(incident), rest, command["user_id"])
        choices = await self.runbooks.choices(_n(incident))
        return blocks.runbook_choices_text(
            self.config.slash_command, [(c.runbook, c.running_version) for c in choices]
        )

    async def followup(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        """With no text, the form; with text: `TITLE [@owner] [p1] [due:2026-12-24|due:7d]`."""
        if not rest.strip():
            return await self.open_modal(client, command["trigger_id"], blocks.followup_modal(incident))
        await self.followups.add(_n(incident), parse_followup(rest), command["user_id"])
        return None

    async def followups_list(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        items = await self.followups.of_incident(_n(incident))
        shown = blocks.followups_blocks(incident, items, self.config.slash_command, utcnow())
        return {"text": blocks.followups_text(incident, items, self.config.slash_command), "blocks": shown}

    async def changes_list(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        found = await self.changes.for_incident(incident)
        shown = blocks.changes_listing(incident, found, self.config.changes.lookback)
        return {"text": blocks.changes_text(incident, found), "blocks": shown}

    async def cause(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        """`cause CHANGE_ID`: that change caused this incident (`changes` lists the ids)."""
        if not rest.strip():
            raise DomainError(
                f"Which change? `{self.config.slash_command} cause CHANGE_ID`; `changes` lists them."
            )
        _, change = await self.changes.link_cause(_n(incident), rest.strip(), command["user_id"])
        return f":dart: Linked {escape(change.label())} as the cause."

    async def postmortem(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        """`postmortem` writes a new draft; `review`, `publish` and `owner @user` move it along."""
        word, _, who = rest.strip().partition(" ")
        number, user = _n(incident), command["user_id"]
        if not word:
            postmortem, _ = await self.postmortems.generate(number, user)
            return f":page_facing_up: Post-mortem draft v{postmortem.version} is written; it is being uploaded here."
        if word.lower() == "review":
            await self.reviews.review(number, user)
            return None
        if word.lower() == "publish":
            await self.reviews.publish(number, user)
            return ":books: Published: the final version is on its way to the announcement channel."
        if word.lower() == "owner" and who:
            await self.reviews.set_owner(number, parse_user(who), user)
            return None
        c = self.config.slash_command
        raise DomainError(
            f"Usage: `{c} postmortem` (a new draft), `{c} postmortem review|publish|owner @user`."
        )

    async def close(
        self, incident: Incident, rest: str, command: dict[str, Any], client: AsyncWebClient
    ) -> Reply:
        await self.service.close(_n(incident), command["user_id"])
        return None


def _n(incident: Incident) -> int:
    assert incident.number is not None
    return incident.number


def register(app: AsyncApp, services: Services, config: WarroomConfig) -> None:
    app.command(config.slash_command)(Commands(services, config).handle)
