"""The incident's own messages: the pinned summary, the announcement, the topic, echoes."""

from __future__ import annotations

from bot.config import WarroomConfig
from bot.domain.changes import frozen_by
from bot.domain.incident import Status
from bot.domain.reviews import ReviewState
from bot.slack.blocks.kit import EVENT_EMOJI, STATUS_EMOJI, Block, button, context, mrkdwn, who
from bot.slack.ids import Action, BlockId
from bot.slack.text import escape, escape_keeping_mentions, slack_time
from bot.slack.text import link as slack_link
from bot.store.tables import Incident, TimelineEvent


def heading(incident: Incident) -> str:
    drill = "[DRILL] " if incident.drill else ""
    return f"{drill}#{incident.number} {incident.title}"


def summary_blocks(
    incident: Incident, roles: dict[str, str], config: WarroomConfig, changes: str | None = None
) -> list[Block]:
    """The pinned summary in the incident channel, kept current with chat.update. `changes`:
    its cause, or the change it started shortly after (blocks/changes.py)."""
    status = incident.status
    fields = [
        f"*Severity*\n{incident.severity}",
        f"*Status*\n{STATUS_EMOJI.get(status, '')} {status}",
    ]
    fields += [f"*{role.name.title()}*\n{who(roles.get(role.name))}" for role in config.roles]
    fields.append(f"*Declared*\n{slack_time(incident.declared_at)}")
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": heading(incident)[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields[:10]]},
    ]
    if incident.description:
        blocks.append(mrkdwn(escape(incident.description)))
    if changes:
        blocks.append(mrkdwn(changes))
    open_ = Status(status) not in (Status.RESOLVED, Status.CLOSED) and not incident.drill
    if frozen := frozen_by(incident.severity, incident.service, open_, config.changes.freeze_on):
        blocks.append(mrkdwn(f":no_entry: {escape(frozen)} (`GET /api/freeze`)"))
    if incident.resolve_summary:
        blocks.append(mrkdwn(f"*Resolution*\n{escape(incident.resolve_summary)}"))
    if incident.postmortem_version:
        draft = f"draft v{incident.postmortem_version}"
        where = (
            slack_link(incident.postmortem_url, draft)
            if incident.postmortem_url
            else f"{draft}, uploaded in this channel"
        )
        blocks.append(mrkdwn(f"*Post-mortem*: {where}{review_words(incident)}"))
    if status != Status.CLOSED:
        value = str(incident.number)
        actions = [
            button("Take commander", Action.TAKE_COMMANDER, value),
            button("Update status", Action.OPEN_STATUS, value),
        ]
        if status != Status.RESOLVED:
            actions.append(button("Resolve", Action.OPEN_RESOLVE, value, style="primary"))
        blocks.append({"type": "actions", "block_id": BlockId.SUMMARY_ACTIONS, "elements": actions})
    blocks.append(
        context(
            f"`{config.slash_command} help` lists the commands. Updated {slack_time(incident.updated_at)}"
        )
    )
    return blocks


def summary_text(incident: Incident) -> str:
    """Notification fallback text; Slack shows it where blocks cannot be shown."""
    return escape(f"{incident.severity} {heading(incident)} ({incident.status})")


def review_words(incident: Incident) -> str:
    """` · in review · owner @bob · due 2026-12-06`: where the post-mortem stands."""
    if incident.postmortem_state is None:
        return ""
    parts = [ReviewState(incident.postmortem_state).words]
    if incident.postmortem_state == ReviewState.PUBLISHED:
        return f" · {parts[0]}"
    if incident.postmortem_owner:
        parts.append(f"owner {who(incident.postmortem_owner)}")
    if incident.postmortem_due_at:
        parts.append(f"due {incident.postmortem_due_at:%Y-%m-%d}")
    return " · " + " · ".join(parts)


def announcement_blocks(
    incident: Incident, roles: dict[str, str], outcome: str | None = None, changes: str | None = None
) -> list[Block]:
    """`outcome`: once resolved, how long it took beside its severity's recent figures;
    `changes`: its cause, or the change it started shortly after."""
    where = f"<#{incident.channel_id}>" if incident.channel_id else "(channel being created)"
    announcement = [
        mrkdwn(
            f":rotating_light: *{incident.severity}* incident *{escape(heading(incident))}*\n"
            f"Status: {STATUS_EMOJI.get(incident.status, '')} {incident.status} · "
            f"Commander: {who(roles.get('commander'))} · Join {where}"
        )
    ]
    if changes:
        announcement.append(context(changes))
    if outcome:
        announcement.append(context(f":stopwatch: {escape(outcome)}"))
    return announcement


def topic(incident: Incident, roles: dict[str, str]) -> str:
    text = f"{incident.severity} | {incident.status} | IC: {who(roles.get('commander'))} | {incident.title}"
    return text[:250]


def echo_text(event: TimelineEvent) -> str:
    """The short line posted in the channel when something changes."""
    emoji = EVENT_EMOJI.get(event.kind, ":information_source:")
    body = escape_keeping_mentions(event.text)
    if event.kind == "note":
        return f"{emoji} Note from {who(event.actor)}: {body}"
    return f"{emoji} {body} (by {who(event.actor)})" if event.actor else f"{emoji} {body}"
