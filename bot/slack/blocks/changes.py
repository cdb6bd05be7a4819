"""What changed: the suspects message in an incident channel (a Suspect button per change),
`/incident changes`, and the lines the summary and a triage post add."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.changes import Change
from bot.domain.metrics import format_duration
from bot.services.changes import MAX_LISTED, IncidentChanges
from bot.slack.blocks.kit import Block, button, context, mrkdwn
from bot.slack.ids import Action, BlockId
from bot.slack.text import escape, slack_time
from bot.slack.text import link as slack_link
from bot.store.tables import Incident


def change_line(change: Change, start: datetime, *, cause: bool = False) -> str:
    """`*deploy checkout v2.14.0* · succeeded 12 min before the start · alice · run`."""
    gap = (start - change.at).total_seconds()
    when = (
        f"{format_duration(gap)} before the start" if gap >= 0 else f"{format_duration(-gap)} after the start"
    )
    parts = [f"*{escape(change.label())}*", f"{change.status.replace('_', ' ')} {when}"]
    if change.environment != "production":
        parts.append(escape(change.environment))
    if change.author:
        parts.append(escape(change.author))
    if change.url:
        parts.append(slack_link(change.url, "details"))
    line = " · ".join(parts)
    if cause:
        line = f":dart: *Cause* · {line}"
    if change.freeze:
        line += "\n:warning: during a freeze"
    return line


def changes_blocks(incident: Incident, found: IncidentChanges, lookback: timedelta) -> list[Block]:
    """One section per suspect, newest first, each with a Suspect button (none on the cause)."""
    service = escape(incident.service or "")
    window = format_duration(lookback.total_seconds())
    if not found.suspects:
        return [
            mrkdwn(
                f":mag: *What changed?* No change to *{service}* was recorded in the {window} "
                "before this incident started."
            )
        ]
    shown = found.suspects[:MAX_LISTED]
    head = f":mag: *What changed?* {_changes(len(found.suspects))} to *{service}* in the {window} before the start"
    blocks: list[Block] = [mrkdwn(head)]
    for change in shown:
        is_cause = change.id == incident.cause_change
        block = mrkdwn(change_line(change, incident.started_at, cause=is_cause))
        if not is_cause:
            block["accessory"] = button("Suspect", Action.SUSPECT_CHANGE, change.id)
        block["block_id"] = f"{BlockId.CHANGES}:{shown.index(change)}"
        blocks.append(block)
    more = len(found.suspects) - len(shown)
    tail = f"…and {more} older. " if more else ""
    blocks.append(context(f"{tail}Suspect links a change as the cause; `cause CHANGE_ID` does the same."))
    return blocks


def changes_text(incident: Incident, found: IncidentChanges) -> str:
    return escape(f"{_changes(len(found.suspects))} to {incident.service} before incident #{incident.number}")


def _changes(n: int) -> str:
    return "1 change" if n == 1 else f"{n} changes"


def changes_listing(incident: Incident, found: IncidentChanges, lookback: timedelta) -> list[Block]:
    """`/incident changes`: the suspects (with buttons) and what changed while it was open."""
    if not incident.service:
        return [mrkdwn("This incident has no service, so no changes are related to it.")]
    blocks = changes_blocks(incident, found, lookback)
    if found.during:
        lines = [f"• {change_line(c, incident.started_at)} · `{escape(c.id)}`" for c in found.during[:20]]
        blocks.append(mrkdwn("*While it was open*\n" + "\n".join(lines)))
    ids = ", ".join(f"`{escape(c.id)}`" for c in found.suspects[:MAX_LISTED])
    if ids:
        blocks.append(context(f"Ids: {ids}"))
    return blocks


def cause_line(incident: Incident, found: IncidentChanges, lookback: timedelta) -> str | None:
    """The summary's line: the cause, or else the change it started shortly after, or that
    nothing changed (the suspects have a message of their own)."""
    if found.cause is not None:
        change = found.cause
        return f":dart: *Cause*: {escape(change.label())} ({slack_time(change.at)})"
    if found.lead is not None:
        change, gap = found.lead
        return f":mag: Started {escape(format_duration(gap.total_seconds()))} after {escape(change.label())}"
    if incident.service and not found.suspects:
        window = format_duration(lookback.total_seconds())
        return (
            f":mag: No change to {escape(incident.service)} was recorded in the {window} before it started."
        )
    return None
