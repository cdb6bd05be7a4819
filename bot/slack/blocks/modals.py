"""The forms: declare, status update, resolve, and a message in a modal."""

from __future__ import annotations

from typing import Any

from bot.config import WarroomConfig
from bot.domain.incident import Status, allowed_next
from bot.domain.status import FINAL_MESSAGE
from bot.slack.blocks.incident import heading
from bot.slack.blocks.kit import STATUS_EMOJI, Block, fit, input_block, modal, mrkdwn, options
from bot.slack.ids import PRIVATE_CHOICE, Field, Form
from bot.slack.text import escape
from bot.store.tables import Incident


def declare_modal(config: WarroomConfig, channel_id: str | None = None) -> dict[str, Any]:
    severities = [(s.name, f"{s.name}: {s.description}") for s in config.severities]
    default = next(o for o in options(severities) if o["value"] == config.default_severity)
    return modal(
        "Declare an incident",
        [
            input_block(
                Field.TITLE,
                "What is broken?",
                {"type": "plain_text_input", "action_id": "value", "max_length": 150},
                hint="Short and specific: 'Checkout fails for card payments'",
            ),
            input_block(
                Field.SEVERITY,
                "Severity",
                {
                    "type": "static_select",
                    "action_id": "value",
                    "options": options(severities),
                    "initial_option": default,
                },
            ),
            input_block(
                Field.COMMANDER,
                "Commander",
                {"type": "users_select", "action_id": "value"},
                optional=True,
                hint="You, if left empty",
            ),
            input_block(
                Field.DESCRIPTION,
                "What do we know?",
                {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2000},
                optional=True,
            ),
            input_block(
                Field.PRIVATE,
                "Visibility",
                {
                    "type": "checkboxes",
                    "action_id": "value",
                    "options": [
                        {
                            "text": {
                                "type": "plain_text",
                                "text": "Private: a private channel, seen only by its members",
                            },
                            "value": PRIVATE_CHOICE,
                        }
                    ],
                },
                optional=True,
            ),
        ],
        callback_id=Form.DECLARE,
        metadata=channel_id or "",
        submit="Declare",
    )


def status_modal(incident: Incident) -> dict[str, Any]:
    choices = [
        (s.value, f"{STATUS_EMOJI[s.value]} {s.value}")
        for s in allowed_next(Status(incident.status))
        if s != Status.CLOSED
    ]
    blocks: list[Block] = [mrkdwn(f"*{escape(heading(incident))}* is *{incident.status}*.")]
    if choices:
        blocks.append(
            input_block(
                Field.STATUS,
                "New status",
                {"type": "static_select", "action_id": "value", "options": options(choices)},
            )
        )
    blocks.append(
        input_block(
            Field.MESSAGE,
            "What changed?",
            {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2000},
            optional=True,
        )
    )
    return modal(
        "Update status",
        blocks,
        callback_id=Form.STATUS,
        metadata=str(incident.number),
        submit="Update",
    )


def resolve_modal(incident: Incident, *, final_update: bool = False) -> dict[str, Any]:
    """`final_update`: someone beyond the channel listens (stakeholder channels, or the
    status page showed the incident): the form offers the final update, written already."""
    blocks = [
        mrkdwn(f"Resolving *{escape(heading(incident))}*."),
        input_block(
            Field.SUMMARY,
            "Resolution summary",
            {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 2000},
            hint="What fixed it? This opens the post-mortem.",
        ),
    ]
    if final_update:
        public = " and the status page" if incident.public_id else ""
        blocks.append(
            input_block(
                Field.FINAL_UPDATE,
                "Final update",
                {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": 2000,
                    "initial_value": FINAL_MESSAGE,
                },
                optional=True,
                hint=f"For the stakeholders{public}; every affected component is operational again. Empty: none.",
            )
        )
    return modal(
        f"Resolve #{incident.number}"[:24],
        blocks,
        callback_id=Form.RESOLVE,
        metadata=str(incident.number),
        submit="Resolve",
    )


def message_modal(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (a form whose action could not be done)."""
    return modal(
        title[:24],
        [mrkdwn(fit(text))],
        close="Close",
    )
