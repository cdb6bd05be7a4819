"""The stakeholder update: its form, and the message the stakeholder channels get."""

from __future__ import annotations

from typing import Any

from bot.config import WarroomConfig
from bot.domain.status import Audience, ComponentState, default_public_title
from bot.slack.blocks.incident import heading
from bot.slack.blocks.kit import Block, context, input_block, modal, mrkdwn, options
from bot.slack.ids import Field, Form, component_block
from bot.slack.text import escape
from bot.store.tables import Incident, StatusUpdate

STATE_EMOJI = {
    ComponentState.OPERATIONAL: ":large_green_circle:",
    ComponentState.DEGRADED: ":large_yellow_circle:",
    ComponentState.PARTIAL_OUTAGE: ":large_orange_circle:",
    ComponentState.MAJOR_OUTAGE: ":red_circle:",
}
MAX_COMPONENTS_IN_FORM = 40  # a modal holds 100 blocks; past this, `update` names them in text


def update_modal(
    incident: Incident, config: WarroomConfig, states: dict[str, ComponentState]
) -> dict[str, Any]:
    """`states`: each component's state as the incident's updates last named it."""
    channels = config.stakeholder_channels(incident.severity)
    where = ", ".join(f"#{c}" for c in channels) or "no stakeholder channels (warroom.yaml `stakeholders`)"
    blocks: list[Block] = [
        mrkdwn(f"*{escape(heading(incident))}*: an update for {escape(where)}."),
        input_block(
            Field.MESSAGE,
            "What should they know?",
            {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2000},
            hint="Impact, what is being done, and when the next update comes.",
        ),
    ]
    if not incident.private and not incident.drill:
        choices = options(
            [
                (Audience.INTERNAL.value, "Internal: the stakeholder channels"),
                (Audience.PUBLIC.value, "Public: the stakeholder channels and the status page"),
            ]
        )
        blocks.append(
            input_block(
                Field.AUDIENCE,
                "Audience",
                {
                    "type": "radio_buttons",
                    "action_id": "value",
                    "options": choices,
                    "initial_option": choices[0],
                },
            )
        )
        if incident.public_id is None:
            blocks.append(
                input_block(
                    Field.PUBLIC_TITLE,
                    "Title on the status page",
                    {"type": "plain_text_input", "action_id": "value", "max_length": 120},
                    optional=True,
                    hint=f"What customers read, never the internal title. Empty: “{default_public_title([])}” "
                    "or “Issues with …” the components below.",
                )
            )
    else:
        why = "private" if incident.private else "a drill"
        blocks.append(context(f"This incident is {why}: its updates never reach the status page."))
    state_choices = options([(s.value, f"{s.label}") for s in ComponentState])
    for component in config.status_page.components[:MAX_COMPONENTS_IN_FORM]:
        current = states.get(component.name, ComponentState.OPERATIONAL)
        blocks.append(
            input_block(
                component_block(component.name),
                component.name,
                {
                    "type": "static_select",
                    "action_id": "value",
                    "options": state_choices,
                    "initial_option": next(o for o in state_choices if o["value"] == current.value),
                },
            )
        )
    return modal(
        "Update stakeholders",
        blocks,
        callback_id=Form.UPDATE,
        metadata=str(incident.number),
        submit="Send",
    )


def stakeholder_text(incident: Incident, update: StatusUpdate) -> str:
    kind = "Final update" if update.final else "Update"
    return f"{kind} on #{incident.number} {incident.title}: {update.message}"


def stakeholder_blocks(incident: Incident, update: StatusUpdate, author: str) -> list[Block]:
    """What a stakeholder channel reads: the incident by name, the update, the components,
    and how to follow it."""
    kind = ":white_check_mark: *Final update*" if update.final else ":mega: *Update*"
    lines = [
        f"{kind} on *#{incident.number} {escape(incident.title)}* ({incident.severity}, {update.status})",
        escape(update.message),
    ]
    states = [
        f"{STATE_EMOJI[ComponentState(s)]} {escape(name)}: {ComponentState(s).label}"
        for name, s in update.components.items()
    ]
    shown: list[Block] = [mrkdwn("\n".join(lines))]
    if states:
        shown.append(mrkdwn("\n".join(states)))
    where = f"<#{incident.channel_id}>" if incident.channel_id else "its incident channel"
    public = " · also on the status page" if update.audience == Audience.PUBLIC else ""
    shown.append(context(f"From {escape(author)} · follow it in {where}{public}"))
    return shown
