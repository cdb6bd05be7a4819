"""Job handlers that make Slack match the database.

Every handler is idempotent: it looks at what the database says was already done (channel_id,
summary_ts, announcement_ts, ...) and only does the rest, so a retry or a second worker
changes nothing that was done.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import worker
from bot.config import WarroomConfig
from bot.documents import reports as report_docs
from bot.domain.incident import ACTIVE, Status
from bot.jobs import Handler, JobKind
from bot.services.bundle import Services
from bot.slack import blocks
from bot.slack.ids import Marker
from bot.slack.ratelimit import SlowDown
from bot.slack.text import channel_name, escape
from bot.store.tables import Incident, Job

log = logging.getLogger(__name__)

# Slack errors that say "try again", as opposed to "this request is wrong".
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
# Slack errors that mean the wanted state already holds.
ALREADY_DONE = {"already_in_channel", "already_pinned", "already_reacted"}
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")


class ChannelNotReady(Exception):
    """The incident channel does not exist yet; try again shortly."""


def slack_failure(exc: BaseException) -> worker.Retry | None:
    """How the worker retries a failed Slack job (bot/worker.py composes the policy)."""
    if isinstance(exc, SlowDown):  # our own rate budget: not a failure, never given up
        return worker.Retry(after=exc.delay, limit=None)
    if isinstance(exc, ChannelNotReady):
        return worker.Retry(after=2.0)
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        if status == 429:
            headers = exc.response.headers
            return worker.Retry(
                after=float(headers.get("Retry-After", headers.get("retry-after", 1))), limit=None
            )
        if status >= 500 or exc.response.get("error") in TRANSIENT_ERRORS:
            return worker.TRANSIENT
        return worker.OTHER
    if isinstance(exc, aiohttp.ClientError):
        return worker.TRANSIENT
    return None


async def all_of(*steps: Awaitable[Any]) -> None:
    """Run steps at once and wait for every one of them, then raise the first failure: a job
    must not be retried while a step of its previous attempt is still talking to Slack."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", ""))


class SlackProjector:
    def __init__(
        self,
        client: AsyncWebClient,
        services: Services,
        config: WarroomConfig,
    ) -> None:
        self.client = client
        self.service = services.incidents
        self.queries = services.queries
        self.projection = services.projection
        self.alerts = services.alerts
        self.runbooks = services.runbooks
        self.postmortems = services.postmortems
        self.reports = services.reports
        self.config = config
        self._bot_user: str | None = None

    def handlers(self) -> dict[str, Handler]:
        return {
            JobKind.SLACK_OPEN_CHANNEL: self.open_channel,
            JobKind.SLACK_SYNC_SUMMARY: self.sync_summary,
            JobKind.SLACK_ECHO: self.echo,
            JobKind.SLACK_INVITE: self.invite,
            JobKind.SLACK_RECORD_PIN: self.record_pin,
            JobKind.SLACK_PUBLISH_HOME: self.publish_home,
            JobKind.SLACK_SYNC_ALERTS: self.sync_alerts,
            JobKind.SLACK_ALERTS_CLEARED: self.alerts_cleared,
            JobKind.SLACK_TRIAGE: self.triage,
            JobKind.SLACK_SYNC_CHECKLIST: self.sync_checklist,
            JobKind.SLACK_UPLOAD_POSTMORTEM: self.upload_postmortem,
            JobKind.SLACK_POST_REPORT: self.post_report,
        }

    async def on_give_up(self, job: Job, error: str) -> None:
        """A job that failed for good leaves a note on its incident's timeline."""
        number = job.payload.get("incident")
        if isinstance(number, int):
            await self.projection.add_system_note(
                number, f"Slack update `{job.kind}` failed for good: {error[:300]}"
            )

    # ------------------------------------------------------------ handlers

    async def open_channel(self, payload: dict[str, Any]) -> None:
        """Three sequential round trips to Slack: create the channel; then invite, set the
        topic, announce and post the summary at once; then pin the summary."""
        number = payload["incident"]
        incident, all_roles = await asyncio.gather(self.queries.get(number), self.queries.roles([number]))
        roles = all_roles[number]
        steps: list[Awaitable[Any]] = []
        if incident.channel_id is None:
            await self._create_channel(incident)
            # Recording the channel runs beside the next round trip instead of before it:
            # either way a crash right after the create would leave that channel unrecorded.
            steps.append(
                self.projection.record_projection(
                    number, channel_id=_channel(incident), channel_name=incident.channel_name or ""
                )
            )
        await all_of(
            *steps,
            self._invite(incident, [incident.reporter_id, *roles.values()]),
            self._post_and_pin_summary(incident, roles),
            self._set_topic(incident, roles),
            self._announce(incident, roles),
        )

    async def sync_summary(self, payload: dict[str, Any]) -> None:
        incident = await self.queries.get(payload["incident"])
        roles = (await self.queries.roles([_n(incident)]))[_n(incident)]
        calls: list[Awaitable[Any]] = [self._set_topic(incident, roles)]
        if incident.summary_ts:
            calls.append(
                self.client.chat_update(
                    channel=_channel(incident),
                    ts=incident.summary_ts,
                    text=blocks.summary_text(incident),
                    blocks=blocks.summary_blocks(incident, roles, self.config),
                )
            )
        if incident.announcement_ts:
            calls.append(
                self.client.chat_update(
                    channel=incident.announcement_channel_id or self.config.announcement_channel,
                    ts=incident.announcement_ts,
                    text=blocks.summary_text(incident),
                    blocks=blocks.announcement_blocks(incident, roles),
                )
            )
        await all_of(*calls)

    async def echo(self, payload: dict[str, Any]) -> None:
        incident = await self.queries.get(payload["incident"])
        channel = _channel(incident)
        event = await self.queries.event_by_key(payload["event_key"])
        if event is None:
            return
        marker = {"event_type": Marker.ECHO, "event_payload": {"event": payload["event_key"]}}
        await self._post_once(channel, marker, text=blocks.echo_text(event))

    async def invite(self, payload: dict[str, Any]) -> None:
        incident = await self.queries.get(payload["incident"])
        _channel(incident)
        await self._invite(incident, payload["users"])

    async def record_pin(self, payload: dict[str, Any]) -> None:
        history = await self.client.conversations_history(
            channel=payload["channel"], latest=payload["ts"], inclusive=True, limit=1
        )
        found: list[dict[str, Any]] = history.get("messages", [])
        messages = [m for m in found if m.get("ts") == payload["ts"]]
        if not messages:
            log.info("pinned message %s in %s is gone; nothing to record", payload["ts"], payload["channel"])
            return
        message = messages[0]
        await self.projection.record_pinned_message(
            payload["incident"],
            channel=payload["channel"],
            ts=payload["ts"],
            author=message.get("user"),
            text=str(message.get("text") or "(message without text)"),
            pinned_by=payload["user"],
        )

    async def publish_home(self, payload: dict[str, Any]) -> None:
        incidents = await self.queries.list_incidents(open_only=True, limit=50, viewer=payload["user"])
        roles = await self.queries.roles([_n(i) for i in incidents])
        view = blocks.home_view(incidents, roles, self.config.slash_command)
        await self.client.views_publish(user_id=payload["user"], view=view)

    async def sync_alerts(self, payload: dict[str, Any]) -> None:
        """Post or update the incident's one alerts message with the current counts."""
        incident = await self.queries.get(payload["incident"])
        channel = _channel(incident)
        summary = await self.alerts.summary(_n(incident))
        text = blocks.alerts_text(summary.firing, summary.resolved)
        shown = blocks.alerts_blocks(summary.firing, summary.resolved, summary.newest)
        if incident.alerts_ts:
            await self.client.chat_update(channel=channel, ts=incident.alerts_ts, text=text, blocks=shown)
            return
        _, ts = await self._post_once(channel, _marker(Marker.ALERTS, incident), text=text, blocks=shown)
        await self.projection.record_projection(_n(incident), alerts_ts=ts)

    async def sync_checklist(self, payload: dict[str, Any]) -> None:
        """Post a runbook's checklist, or update it in place to what the database says now."""
        checklist = await self.runbooks.checklist(payload["run"])
        channel = _channel(checklist.incident)
        runbook, progress = checklist.runbook, checklist.progress
        shown = blocks.checklist_blocks(
            payload["run"],
            runbook,
            progress,
            checklist.roles,
            checklist.variables,
            closed=checklist.incident.status == Status.CLOSED,
        )
        text = blocks.checklist_text(runbook, progress)
        if checklist.run.checklist_ts:
            await self.client.chat_update(
                channel=channel, ts=checklist.run.checklist_ts, text=text, blocks=shown
            )
            return
        marker = {"event_type": Marker.CHECKLIST, "event_payload": {"run": payload["run"]}}
        _, ts = await self._post_once(channel, marker, text=text, blocks=shown)
        await self.runbooks.record_checklist(payload["run"], ts)

    async def post_report(self, payload: dict[str, Any]) -> None:
        """`/incident report`: the summary and the chart, uploaded into the channel it was asked
        in. Where warroom may not post (a channel it is not in, a DM), the summary goes back
        to the person who asked, through the command's response_url."""
        since = timedelta(seconds=float(payload["since"]))
        report = await self.reports.mttr(since)
        summary = blocks.report_summary_text(report, since)
        chart = await asyncio.to_thread(report_docs.chart_png, report)
        filename = f"mttr-{report.end:%Y-%m-%d}-{payload['id']}.png"
        try:
            if await self._uploaded_earlier(payload["channel"], filename):
                return
            await self.client.files_upload_v2(
                channel=payload["channel"],
                file=chart,
                filename=filename,
                title="Median time to resolve by severity",
                initial_comment=summary,
            )
        except SlackApiError as exc:
            if _error(exc) not in {"not_in_channel", "channel_not_found"} or not payload.get("response_url"):
                raise
            hint = "\n_Invite me (`/invite @warroom`) to get the chart here too._"
            await AsyncWebhookClient(str(payload["response_url"]), session=self.client.session).send(
                text=summary + hint, response_type="ephemeral"
            )

    async def upload_postmortem(self, payload: dict[str, Any]) -> None:
        """Upload a post-mortem draft into the incident channel (files.getUploadURLExternal and
        files.completeUploadExternal) and link it from the pinned summary."""
        postmortem = await self.postmortems.get(payload["postmortem"])
        incident = await self.queries.get(payload["incident"])
        channel = _channel(incident)
        if postmortem.slack_file_id is None:
            filename = f"incident-{incident.number}-postmortem-v{postmortem.version}.md"
            uploaded = await self._uploaded_earlier(channel, filename)
            if uploaded is None:
                response = await self.client.files_upload_v2(
                    channel=channel,
                    content=postmortem.markdown,
                    filename=filename,
                    title=f"Post-mortem draft v{postmortem.version}: #{incident.number} {incident.title}"[
                        :250
                    ],
                    initial_comment=f":page_facing_up: Post-mortem draft v{postmortem.version} (Markdown; edit freely).",
                )
                uploaded = response.get("file") or (response.get("files") or [{}])[0]
            await self.postmortems.record_upload(postmortem.id or 0, str(uploaded.get("id")))
            if postmortem.version == incident.postmortem_version:
                url = str(uploaded.get("permalink") or "")
                await self.projection.record_projection(_n(incident), postmortem_url=url)
        await self.sync_summary({"incident": _n(incident)})

    async def alerts_cleared(self, payload: dict[str, Any]) -> None:
        incident = await self.queries.get(payload["incident"])
        channel = _channel(incident)
        if Status(incident.status) not in ACTIVE or incident.alerts_cleared_at is None:
            return  # resolved meanwhile, or an alert fired again before we asked
        roles = (await self.queries.roles([_n(incident)]))[_n(incident)]
        summary = await self.alerts.summary(_n(incident), newest=0)
        await self._post_once(
            channel,
            _marker(Marker.ALERTS_CLEARED, incident),
            text="All alerts have resolved: resolve the incident?",
            blocks=blocks.alerts_cleared_blocks(incident, roles.get("commander"), summary.resolved),
        )

    async def triage(self, payload: dict[str, Any]) -> None:
        alert = await self.alerts.get(payload["source"], payload["fingerprint"])
        if alert is None or alert.incident_number is not None:
            return  # declared or joined an incident meanwhile
        value = json.dumps({"source": alert.source, "fingerprint": alert.fingerprint})
        marker = {"event_type": Marker.TRIAGE, "event_payload": {"alert": value}}
        await self._post_once(
            self.config.alerts.triage_channel,
            marker,
            text=escape(f"Alert needs a look: {alert.title}"),
            blocks=blocks.triage_blocks(alert, value),
        )

    # ------------------------------------------------------------ steps

    async def _create_channel(self, incident: Incident) -> None:
        """Create the channel (a suffix after name_taken) and note its id on `incident`. An
        earlier attempt may have created it before its process died: see _ours."""
        for attempt in range(20):
            name = channel_name(
                self.config.channel_prefix,
                _n(incident),
                incident.title,
                drill=incident.drill,
                attempt=attempt,
            )
            try:
                response = await self.client.conversations_create(name=name, is_private=incident.private)
            except SlackApiError as exc:
                if _error(exc) != "name_taken":
                    raise
                existing = await self._channel_named(name)
                if existing is not None and await self._ours(existing, incident):
                    incident.channel_id, incident.channel_name = existing["id"], existing["name"]
                    return
                continue
            incident.channel_id, incident.channel_name = (
                response["channel"]["id"],
                response["channel"]["name"],
            )
            return
        raise RuntimeError(f"no free channel name for incident #{incident.number} after 20 tries")

    async def _invite(self, incident: Incident, users: list[str]) -> None:
        wanted = sorted({u for u in users if u and u[0] in "UW"})
        if not wanted:
            return
        try:
            await self.client.conversations_invite(channel=_channel(incident), users=",".join(wanted))
        except SlackApiError as exc:
            if _error(exc) in ALREADY_DONE:
                return
            if _error(exc) == "user_not_found" and len(wanted) > 1:
                for user in wanted:  # invite the others even if one id is stale
                    await self._invite(incident, [user])
                return
            if _error(exc) == "user_not_found":
                log.warning("cannot invite %s to incident #%s: unknown user", wanted[0], incident.number)
                return
            raise

    async def _ours(self, channel: dict[str, Any], incident: Incident) -> bool:
        """A channel with this incident's name that warroom created after the incident was
        declared (not one left by an earlier installation with the same numbers)."""
        if self._bot_user is None:
            self._bot_user = str((await self.client.auth_test())["user_id"])
        created = float(channel.get("created") or 0)
        return channel.get("creator") == self._bot_user and created >= incident.declared_at.timestamp() - 60

    async def _channel_named(self, name: str) -> dict[str, Any] | None:
        name = name.lstrip("#")
        cursor = None
        while True:
            page = await self.client.conversations_list(
                types="public_channel,private_channel", exclude_archived=True, limit=1000, cursor=cursor
            )
            channels: list[dict[str, Any]] = page.get("channels", [])
            for channel in channels:
                if channel.get("name") == name:
                    return dict(channel)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    async def _recent(self, channel: str) -> tuple[str, list[dict[str, Any]]]:
        """A channel's id and its last 100 messages, newest first (with their metadata)."""
        if not CHANNEL_ID.fullmatch(channel):  # a name, like the announcement channel's
            found = await self._channel_named(channel)
            if found is None:
                return channel, []
            channel = found["id"]
        history = await self.client.conversations_history(
            channel=channel, include_all_metadata=True, limit=100
        )
        return channel, list(history.get("messages", []))

    async def _posted_earlier(self, channel: str, marker: dict[str, Any]) -> tuple[str, str] | None:
        """The channel id and ts of a message an earlier attempt posted with this metadata."""
        channel, messages = await self._recent(channel)
        return next(((channel, str(m["ts"])) for m in messages if m.get("metadata") == marker), None)

    async def _post_once(self, channel: str, marker: dict[str, Any], **message: Any) -> tuple[str, str]:
        """Post a message at most once; its channel id and ts. On a job's later attempt, an
        earlier attempt may have posted it before its process died: the marker (message
        metadata) finds it."""
        if worker.attempt.get() > 1 and (earlier := await self._posted_earlier(channel, marker)):
            return earlier
        response = await self.client.chat_postMessage(channel=channel, metadata=marker, **message)
        return str(response["channel"]), str(response["ts"])

    async def _uploaded_earlier(self, channel: str, filename: str) -> dict[str, Any] | None:
        """On a job's later attempt: the file an earlier attempt shared in the channel, if any
        (file names are unique per draft version and per report request)."""
        if worker.attempt.get() == 1:
            return None
        _, messages = await self._recent(channel)
        shared = (dict(f) for m in messages for f in m.get("files", []))
        return next((f for f in shared if f.get("name") == filename), None)

    async def _post_and_pin_summary(self, incident: Incident, roles: dict[str, str]) -> None:
        if incident.summary_ts is not None:
            await self._pin(incident, incident.summary_ts)
            return
        _, summary_ts = await self._post_once(
            _channel(incident),
            _marker(Marker.SUMMARY, incident),
            text=blocks.summary_text(incident),
            blocks=blocks.summary_blocks(incident, roles, self.config),
        )
        # Remembering the ts and pinning are independent: do both at once.
        await all_of(
            self.projection.record_projection(_n(incident), summary_ts=summary_ts),
            self._pin(incident, summary_ts),
        )

    async def _pin(self, incident: Incident, ts: str) -> None:
        try:
            await self.client.pins_add(channel=_channel(incident), timestamp=ts)
        except SlackApiError as exc:
            if _error(exc) not in ALREADY_DONE:
                raise

    async def _set_topic(self, incident: Incident, roles: dict[str, str]) -> None:
        topic = blocks.topic(incident, roles)
        if incident.channel_id is None or incident.slack_topic == topic:
            return
        await self.client.conversations_setTopic(channel=incident.channel_id, topic=topic)
        await self.projection.record_projection(_n(incident), slack_topic=topic)

    async def _announce(self, incident: Incident, roles: dict[str, str]) -> None:
        if incident.announcement_ts or incident.private:  # a private incident is not announced
            return
        channel, ts = await self._post_once(
            self.config.announcement_channel,
            _marker(Marker.ANNOUNCEMENT, incident),
            text=escape(f"{incident.severity} incident #{incident.number}: {incident.title}"),
            blocks=blocks.announcement_blocks(incident, roles),
            unfurl_links=False,
        )
        await self.projection.record_projection(
            _n(incident), announcement_channel_id=channel, announcement_ts=ts
        )


def _marker(kind: Marker, incident: Incident) -> dict[str, Any]:
    """Message metadata that lets a retry recognise what an earlier attempt posted."""
    return {"event_type": kind, "event_payload": {"incident": incident.number}}


def _channel(incident: Incident) -> str:
    if incident.channel_id is None:
        raise ChannelNotReady(f"incident #{incident.number} has no channel yet")
    return incident.channel_id


def _n(incident: Incident) -> int:
    assert incident.number is not None
    return incident.number
