"""Job handlers that put documents into Slack: the MTTR report asked for with `/incident
report`, each post-mortem draft (into the incident channel), and the published post-mortem
(into the announcement channel). Each finds what an earlier attempt uploaded (by file name)
instead of uploading it twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.config import WarroomConfig
from bot.documents import reports as report_docs
from bot.documents.postmortem import chart_file
from bot.jobs import Handler, JobKind
from bot.services.bundle import Services
from bot.services.timeline import number_of
from bot.slack import blocks
from bot.slack.ids import Marker
from bot.slack.projector import SlackProjector, channel_of
from bot.slack.text import escape
from bot.slack.writer import error_of, marker
from bot.store.tables import utcnow


class SlackDocuments:
    def __init__(self, projector: SlackProjector, services: Services, config: WarroomConfig) -> None:
        self.projector = projector
        self.client = projector.client
        self.writer = projector.writer
        self.queries = services.queries
        self.projection = services.projection
        self.postmortems = services.postmortems
        self.reports = services.reports
        self.people = services.people
        self.followups = services.followups
        self.config = config

    def handlers(self) -> dict[str, Handler]:
        return {
            JobKind.SLACK_POST_REPORT: self.post_report,
            JobKind.SLACK_UPLOAD_POSTMORTEM: self.upload_postmortem,
            JobKind.SLACK_PUBLISH_POSTMORTEM: self.publish_postmortem,
            JobKind.SLACK_FOLLOWUP_DIGEST: self.followup_digest,
        }

    async def post_report(self, payload: dict[str, Any]) -> None:
        """`/incident report`: the summary and the chart, uploaded into the channel it was asked
        in. Where warroom may not post (a channel it is not in, a DM), the summary goes back
        to the person who asked, through the command's response_url."""
        since = timedelta(seconds=float(payload["since"]))
        payload = {**payload, "channel": await self.writer.channel_id(payload["channel"])}
        report = await self.reports.mttr(since)
        summary = blocks.report_summary_text(report, since)
        chart = await asyncio.to_thread(report_docs.chart_png, report)
        filename = f"mttr-{report.end:%Y-%m-%d}-{payload['id']}.png"
        try:
            if await self.writer.uploaded_earlier(payload["channel"], filename):
                return
            await self.client.files_upload_v2(
                channel=payload["channel"],
                file=chart,
                filename=filename,
                title="Median time to resolve by severity",
                initial_comment=summary,
            )
        except SlackApiError as exc:
            if error_of(exc) not in {"not_in_channel", "channel_not_found"} or not payload.get(
                "response_url"
            ):
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
        channel = channel_of(incident)
        if postmortem.slack_file_id is None:
            filename = f"incident-{incident.number}-postmortem-v{postmortem.version}.md"
            uploaded = await self.writer.uploaded_earlier(channel, filename)
            if uploaded is None:
                title = f"Post-mortem draft v{postmortem.version}: #{incident.number} {incident.title}"[:250]
                files: list[dict[str, Any]] = [
                    {"content": postmortem.markdown, "filename": filename, "title": title}
                ]
                if postmortem.chart:  # the timeline picture, shared with the draft
                    picture = chart_file(number_of(incident), postmortem.version)
                    files.append({"file": postmortem.chart, "filename": picture, "title": "Timeline"})
                response = await self.client.files_upload_v2(
                    channel=channel,
                    file_uploads=files,
                    initial_comment=f":page_facing_up: Post-mortem draft v{postmortem.version} (Markdown; edit freely).",
                )
                uploaded = response.get("file") or (response.get("files") or [{}])[0]
            await self.postmortems.record_upload(postmortem.id or 0, str(uploaded.get("id")))
            if postmortem.version == incident.postmortem_version:
                url = str(uploaded.get("permalink") or "")
                await self.projection.record_projection(number_of(incident), postmortem_url=url)
        await self.projector.sync_summary({"incident": number_of(incident)})

    async def publish_postmortem(self, payload: dict[str, Any]) -> None:
        """The final version, uploaded into the announcement channel (HTML to read, Markdown to
        keep, and the timeline picture), and the summary updated to say it is published."""
        postmortem = await self.postmortems.get(payload["postmortem"])
        incident = await self.queries.get(payload["incident"])
        if incident.private:  # announced nowhere else: its post-mortem stays in its channel
            channel = channel_of(incident)
        else:
            channel = await self.writer.channel_id(
                incident.announcement_channel_id or self.config.announcement_channel
            )
        stem = f"incident-{incident.number}-postmortem-v{postmortem.version}-published"
        if await self.writer.uploaded_earlier(channel, f"{stem}.html") is None:
            names = await self.people.names([incident.postmortem_owner])
            owner = names.name(incident.postmortem_owner) if incident.postmortem_owner else "nobody"
            files: list[dict[str, Any]] = [
                {"content": postmortem.html, "filename": f"{stem}.html", "title": "Post-mortem"},
                {"content": postmortem.markdown, "filename": f"{stem}.md", "title": "Post-mortem (Markdown)"},
            ]
            if postmortem.chart:
                files.append(
                    {
                        "file": postmortem.chart,
                        "filename": chart_file(number_of(incident), postmortem.version),
                    }
                )
            comment = (
                f":books: The post-mortem of *#{incident.number} {escape(incident.title)}* is published "
                f"(version {postmortem.version}, owner {escape(owner)})."
            )
            await self.client.files_upload_v2(channel=channel, file_uploads=files, initial_comment=comment)
        await self.projector.sync_summary({"incident": number_of(incident)})

    async def followup_digest(self, payload: dict[str, Any]) -> None:
        """The weekly digest of overdue follow-ups, in the announcement channel; nothing when
        none is overdue. Posted once (its marker names the period)."""
        overdue = await self.followups.overdue(utcnow())
        if not overdue:
            return
        command = self.config.slash_command
        await self.writer.post_once(
            self.config.announcement_channel,
            marker(Marker.FOLLOWUP_DIGEST, at=payload["at"]),
            text=f"Overdue follow-ups: {len(overdue)}",
            blocks=blocks.digest_blocks(overdue, utcnow(), command),
            unfurl_links=False,
        )
