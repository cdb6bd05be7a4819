"""Job handlers that make Slack match the database.

Every handler is idempotent: it looks at what the database says was already done (channel_id,
summary_ts, announcement_ts, ...) and only does the rest, so a retry or a second worker
changes nothing that was done.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import WarroomConfig
from bot.domain.incident import ACTIVE, Status
from bot.jobs import Handler, JobKind
from bot.services.bundle import Services
from bot.services.catchup import catchup
from bot.slack import blocks
from bot.slack.ids import Marker
from bot.slack.text import channel_name, escape
from bot.slack.writer import ChannelNotReady, SlackWriter, all_of, error_of, marker
from bot.store.tables import Incident, utcnow
from bot.store.work_tables import Job

log = logging.getLogger(__name__)


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
        self.reviews = services.reviews
        self.followups = services.followups
        self.changes = services.changes
        self.config = config
        self.writer = SlackWriter(client)

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
            JobKind.SLACK_CATCHUP: self.catchup,
        }

    async def on_give_up(self, job: Job, error: str) -> None:
        """A job that failed for good leaves a note on its incident's timeline."""
        number = job.payload.get("incident")
        if isinstance(number, int):
            what = "Slack update" if job.kind.startswith("slack.") else "Job"
            await self.projection.add_system_note(
                number, f"{what} `{job.kind}` failed for good: {error[:300]}"
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
            # What changed is read while Slack creates the channel: no round trip added.
            _, changes = await asyncio.gather(self._create_channel(incident), self._changes_line(incident))
            # Recording the channel runs beside the next round trip instead of before it:
            # either way a crash right after the create would leave that channel unrecorded.
            steps.append(
                self.projection.record_projection(
                    number, channel_id=channel_of(incident), channel_name=incident.channel_name or ""
                )
            )
        else:
            changes = await self._changes_line(incident)
        await all_of(
            *steps,
            self.writer.invite(channel_of(incident), [incident.reporter_id, *roles.values()]),
            self._post_and_pin_summary(incident, roles, changes),
            self._set_topic(incident, roles),
            self._announce(incident, roles, changes),
        )

    async def sync_summary(self, payload: dict[str, Any]) -> None:
        incident = await self.queries.get(payload["incident"])
        roles = (await self.queries.roles([_n(incident)]))[_n(incident)]
        changes = await self._changes_line(incident)
        calls: list[Awaitable[Any]] = [self._set_topic(incident, roles)]
        if incident.summary_ts:
            calls.append(
                self.client.chat_update(
                    channel=channel_of(incident),
                    ts=incident.summary_ts,
                    text=blocks.summary_text(incident),
                    blocks=blocks.summary_blocks(incident, roles, self.config, changes),
                )
            )
        if incident.announcement_ts:
            outcome = await self.reports.comparison(incident)
            calls.append(
                self.client.chat_update(
                    channel=incident.announcement_channel_id or self.config.announcement_channel,
                    ts=incident.announcement_ts,
                    text=blocks.summary_text(incident),
                    blocks=blocks.announcement_blocks(incident, roles, outcome, changes),
                )
            )
        await all_of(*calls)

    async def echo(self, payload: dict[str, Any]) -> None:
        incident = await self.queries.get(payload["incident"])
        channel = channel_of(incident)
        event = await self.queries.event_by_key(payload["event_key"])
        if event is None:
            return
        meta = marker(Marker.ECHO, event=payload["event_key"])
        await self.writer.post_once(channel, meta, text=blocks.echo_text(event))

    async def invite(self, payload: dict[str, Any]) -> None:
        incident = await self.queries.get(payload["incident"])
        channel_of(incident)
        await self.writer.invite(channel_of(incident), payload["users"])

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

    async def catchup(self, payload: dict[str, Any]) -> None:
        """The digest, built when the job runs (so it is current), shown only to who joined."""
        digest = await catchup(self.queries.db, payload["incident"], self.changes)
        channel = channel_of(digest.incident)
        command = self.config.slash_command
        try:
            await self.client.chat_postEphemeral(
                channel=channel,
                user=payload["user"],
                text=blocks.catchup_text(digest, utcnow()),
                blocks=blocks.catchup_blocks(digest, utcnow(), command),
            )
        except SlackApiError as exc:
            if error_of(exc) != "user_not_in_channel":  # they left again before it was shown
                raise

    async def publish_home(self, payload: dict[str, Any]) -> None:
        incidents = await self.queries.list_incidents(open_only=True, limit=50, viewer=payload["user"])
        roles = await self.queries.roles([_n(i) for i in incidents])
        owned = await self.reviews.owned_by(payload["user"])
        followups = await self.followups.owned_by(payload["user"])
        view = blocks.home_view(incidents, roles, self.config.slash_command, owned, followups)
        await self.client.views_publish(user_id=payload["user"], view=view)

    async def sync_alerts(self, payload: dict[str, Any]) -> None:
        """Post or update the incident's one alerts message with the current counts."""
        incident = await self.queries.get(payload["incident"])
        channel = channel_of(incident)
        summary = await self.alerts.summary(_n(incident))
        text = blocks.alerts_text(summary.firing, summary.resolved)
        shown = blocks.alerts_blocks(summary.firing, summary.resolved, summary.newest)
        if incident.alerts_ts:
            await self.client.chat_update(channel=channel, ts=incident.alerts_ts, text=text, blocks=shown)
            return
        _, ts = await self.writer.post_once(
            channel, marker(Marker.ALERTS, incident=incident.number), text=text, blocks=shown
        )
        await self.projection.record_projection(_n(incident), alerts_ts=ts)

    async def sync_checklist(self, payload: dict[str, Any]) -> None:
        """Post a runbook's checklist, or update it in place to what the database says now."""
        checklist = await self.runbooks.checklist(payload["run"])
        channel = channel_of(checklist.incident)
        runbook, progress = checklist.runbook, checklist.progress
        shown = blocks.checklist_blocks(
            payload["run"],
            runbook,
            progress,
            checklist.roles,
            checklist.variables,
            closed=checklist.incident.status == Status.CLOSED,
            actions=checklist.actions,
            dry_run=runbook.dry_runs(checklist.incident.drill),
        )
        text = blocks.checklist_text(runbook, progress)
        if checklist.run.checklist_ts:
            await self.client.chat_update(
                channel=channel, ts=checklist.run.checklist_ts, text=text, blocks=shown
            )
            return
        meta = marker(Marker.CHECKLIST, run=payload["run"])
        _, ts = await self.writer.post_once(channel, meta, text=text, blocks=shown)
        await self.runbooks.record_checklist(payload["run"], ts)

    async def alerts_cleared(self, payload: dict[str, Any]) -> None:
        incident = await self.queries.get(payload["incident"])
        channel = channel_of(incident)
        if Status(incident.status) not in ACTIVE or incident.alerts_cleared_at is None:
            return  # resolved meanwhile, or an alert fired again before we asked
        roles = (await self.queries.roles([_n(incident)]))[_n(incident)]
        summary = await self.alerts.summary(_n(incident), newest=0)
        await self.writer.post_once(
            channel,
            marker(Marker.ALERTS_CLEARED, incident=incident.number),
            text="All alerts have resolved: resolve the incident?",
            blocks=blocks.alerts_cleared_blocks(incident, roles.get("commander"), summary.resolved),
        )

    async def triage(self, payload: dict[str, Any]) -> None:
        alert = await self.alerts.get(payload["source"], payload["fingerprint"])
        if alert is None or alert.incident_number is not None:
            return  # declared or joined an incident meanwhile
        value = json.dumps({"source": alert.source, "fingerprint": alert.fingerprint})
        meta = marker(Marker.TRIAGE, alert=value)
        await self.writer.post_once(
            self.config.alerts.triage_channel,
            meta,
            text=escape(f"Alert needs a look: {alert.title}"),
            blocks=blocks.triage_blocks(
                alert, value, await self.changes.lead_words(alert.service, alert.starts_at)
            ),
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
                if error_of(exc) != "name_taken":
                    raise
                existing = await self.writer.channel_named(name)
                if existing is not None and await self.writer.created_by_us_since(
                    existing, incident.declared_at
                ):
                    incident.channel_id, incident.channel_name = existing["id"], existing["name"]
                    return
                continue
            incident.channel_id, incident.channel_name = (
                response["channel"]["id"],
                response["channel"]["name"],
            )
            return
        raise RuntimeError(f"no free channel name for incident #{incident.number} after 20 tries")

    async def _changes_line(self, incident: Incident) -> str | None:
        if not incident.service and not incident.cause_change:
            return None
        found = await self.changes.for_incident(incident)
        return blocks.cause_line(incident, found, self.config.changes.lookback)

    async def _post_and_pin_summary(
        self, incident: Incident, roles: dict[str, str], changes: str | None
    ) -> None:
        if incident.summary_ts is not None:
            await self.writer.pin(channel_of(incident), incident.summary_ts)
            return
        _, summary_ts = await self.writer.post_once(
            channel_of(incident),
            marker(Marker.SUMMARY, incident=incident.number),
            text=blocks.summary_text(incident),
            blocks=blocks.summary_blocks(incident, roles, self.config, changes),
        )
        # Remembering the ts and pinning are independent: do both at once.
        await all_of(
            self.projection.record_projection(_n(incident), summary_ts=summary_ts),
            self.writer.pin(channel_of(incident), summary_ts),
        )

    async def _set_topic(self, incident: Incident, roles: dict[str, str]) -> None:
        topic = blocks.topic(incident, roles)
        if incident.channel_id is None or incident.slack_topic == topic:
            return
        await self.client.conversations_setTopic(channel=incident.channel_id, topic=topic)
        await self.projection.record_projection(_n(incident), slack_topic=topic)

    async def _announce(self, incident: Incident, roles: dict[str, str], changes: str | None) -> None:
        if incident.announcement_ts or incident.private:  # a private incident is not announced
            return
        channel, ts = await self.writer.post_once(
            self.config.announcement_channel,
            marker(Marker.ANNOUNCEMENT, incident=incident.number),
            text=escape(f"{incident.severity} incident #{incident.number}: {incident.title}"),
            blocks=blocks.announcement_blocks(incident, roles, changes=changes),
            unfurl_links=False,
        )
        await self.projection.record_projection(
            _n(incident), announcement_channel_id=channel, announcement_ts=ts
        )


def channel_of(incident: Incident) -> str:
    """The incident's channel, or ChannelNotReady (the job waits) while it is being created."""
    if incident.channel_id is None:
        raise ChannelNotReady(_n(incident))
    return incident.channel_id


def _n(incident: Incident) -> int:
    assert incident.number is not None
    return incident.number
