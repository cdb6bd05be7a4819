"""The catch-up digest: the incident in one message for someone arriving late."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.domain.metrics import format_duration
from bot.slack.blocks.changes import change_line
from bot.slack.blocks.kit import EVENT_EMOJI, STATUS_EMOJI, Block, context, mrkdwn, who
from bot.slack.text import escape, escape_keeping_mentions

if TYPE_CHECKING:
    from bot.services.catchup import Catchup

STEPS_SHOWN = 8
FOLLOWUPS_SHOWN = 8
CHANGES_SHOWN = 5


def catchup_text(c: Catchup, now: datetime) -> str:
    """mrkdwn: status, severity, roles, time since start, the last status updates, open
    runbook steps, open follow-ups, recent changes to its service."""
    incident = c.incident
    since = format_duration((now - incident.started_at).total_seconds())
    status = f"{STATUS_EMOJI.get(incident.status, '')} {incident.status}"
    lines = [
        f"*Catching up on #{incident.number} {escape(incident.title)}*",
        f"{incident.severity} · {status} · started {since} ago",
        "*Roles*: " + (" · ".join(f"{role} {who(user)}" for role, user in c.roles.items()) or "none yet"),
    ]
    lines.append("*Last status updates*" if c.updates else "*Last status updates*: none yet")
    for event in c.updates:
        ago = format_duration((now - event.at).total_seconds())
        by = f" ({who(event.actor)})" if event.actor else ""
        lines.append(f"• {ago} ago {EVENT_EMOJI['status']} {escape_keeping_mentions(event.text)[:300]}{by}")
    lines.append(f"*Open runbook steps* ({len(c.steps)})" if c.steps else "*Open runbook steps*: none")
    for step in c.steps[:STEPS_SHOWN]:
        holder = f", taken by {who(step.taken_by)}" if step.taken_by else ""
        owner = f" (owner: {step.owner_role}{holder})" if step.owner_role or holder else ""
        lines.append(f"• {escape(step.runbook)} {step.position}. {escape(step.title)}{owner}")
    lines.append(f"*Open follow-ups* ({len(c.followups)})" if c.followups else "*Open follow-ups*: none")
    for item in c.followups[:FOLLOWUPS_SHOWN]:
        owner = f" (owner {who(item.owner)})" if item.owner else ""
        lines.append(f"• {escape(item.text)}{owner}")
    changed = [*c.changes.during[:CHANGES_SHOWN], *c.changes.suspects[:CHANGES_SHOWN]]
    if incident.service:
        lines.append(
            f"*Recent changes* to {escape(incident.service)}"
            if changed
            else "*Recent changes*: none recorded"
        )
    for change in changed[:CHANGES_SHOWN]:
        lines.append(
            f"• {change_line(change, incident.started_at, cause=change.id == incident.cause_change)}"
        )
    return "\n".join(lines)[:2900]


def catchup_blocks(c: Catchup, now: datetime, command: str) -> list[Block]:
    return [
        mrkdwn(catchup_text(c, now)),
        context(
            f"Only you see this. `{command} catchup` shows it again, `{command} timeline` shows everything."
        ),
    ]
