"""Follow-ups in Slack: the form, and the list with Done and Won't do buttons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.followups import PRIORITIES, FollowUpState, standing
from bot.slack.blocks.kit import Block, button, context, input_block, modal, mrkdwn, options, who
from bot.slack.ids import Action, Field, Form
from bot.slack.text import escape
from bot.slack.text import link as slack_link
from bot.store.tables import FollowUp, Incident

SHOWN = 40  # Slack allows 50 blocks in a message


def followup_line(item: FollowUp, now: datetime) -> str:
    state = FollowUpState(item.state)
    owner = who(item.owner) if item.owner else "_no owner_"
    due = f"due {item.due_at:%Y-%m-%d}" if item.due_at else "no due date"
    if standing(item.state, item.due_at, item.done_at, now) == "open_overdue":
        due = f":warning: overdue since {item.due_at:%Y-%m-%d}"
    mark = {
        FollowUpState.OPEN: "•",
        FollowUpState.DONE: ":white_check_mark:",
        FollowUpState.WONT_DO: ":heavy_minus_sign:",
    }
    title = escape(item.text) if state is FollowUpState.OPEN else f"~{escape(item.text)}~"
    shown = f"{mark[state]} *{item.priority}* {title} · {owner}"
    shown += f" · {due}" if state is FollowUpState.OPEN else f" · {state.words}"
    if item.ticket_key:
        shown += f" · {slack_link(item.ticket_url, item.ticket_key) if item.ticket_url else escape(item.ticket_key)}"
    return shown


def followups_blocks(incident: Incident, items: list[FollowUp], command: str, now: datetime) -> list[Block]:
    if not items:
        return [mrkdwn(f"No follow-ups for #{incident.number} yet: `{command} followup` records one.")]
    open_items = sum(1 for i in items if i.state == FollowUpState.OPEN)
    shown: list[Block] = [mrkdwn(f"*Follow-ups of #{incident.number}* ({open_items} open of {len(items)})")]
    for item in items[:SHOWN]:
        line = mrkdwn(followup_line(item, now))
        value = str(item.id)
        if item.state == FollowUpState.OPEN:
            line["accessory"] = button("Done", Action.FOLLOWUP_DONE, value, "primary")
            shown.append(line)
            shown.append(
                {"type": "actions", "elements": [button("Won't do", Action.FOLLOWUP_WONT_DO, value)]}
            )
        else:
            line["accessory"] = button("Reopen", Action.FOLLOWUP_REOPEN, value)
            shown.append(line)
    if len(items) > SHOWN:
        shown.append(
            context(f"…and {len(items) - SHOWN} more: `GET /api/incidents/{incident.number}/followups`")
        )
    return shown[:50]


def followup_modal(incident: Incident) -> dict[str, Any]:
    return modal(
        f"Follow-up of #{incident.number}",
        [
            input_block(
                Field.TITLE,
                "What needs doing",
                {"type": "plain_text_input", "action_id": "value", "max_length": 500},
            ),
            input_block(Field.OWNER, "Owner", {"type": "users_select", "action_id": "value"}, optional=True),
            input_block(
                Field.PRIORITY,
                "Priority",
                {
                    "type": "static_select",
                    "action_id": "value",
                    "options": options([(p, p) for p in PRIORITIES]),
                    "initial_option": options([("P2", "P2")])[0],
                },
            ),
            input_block(
                Field.DUE,
                "Due",
                {"type": "datepicker", "action_id": "value"},
                optional=True,
                hint="Empty: the default for the incident's severity (followups.due_after).",
            ),
        ],
        callback_id=Form.FOLLOWUP,
        metadata=str(incident.number),
        submit="Add",
    )


def digest_blocks(overdue: list[tuple[FollowUp, Incident]], now: datetime, command: str) -> list[Block]:
    """The weekly digest of overdue follow-ups, most overdue first."""
    lines = [
        f"<#{i.channel_id}> " + followup_line(f, now)
        if i.channel_id
        else f"#{i.number} " + followup_line(f, now)
        for f, i in overdue
    ]
    return [
        mrkdwn(f":hourglass: *Overdue follow-ups* ({len(overdue)}{'+' if len(overdue) >= 40 else ''})"),
        mrkdwn("\n".join(lines)[:2900]),
        context(f"Marked done or won't do with `{command} followups` in the incident's channel."),
    ]
