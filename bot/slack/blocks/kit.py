"""The pieces every surface is built of: text blocks, buttons, inputs, limits."""

from __future__ import annotations

from typing import Any

from bot.domain.incident import Status
from bot.domain.people import is_user_id
from bot.slack.text import escape

Block = dict[str, Any]

STATUS_EMOJI: dict[str, str] = {
    Status.INVESTIGATING: ":mag:",
    Status.IDENTIFIED: ":bulb:",
    Status.MONITORING: ":eyes:",
    Status.RESOLVED: ":white_check_mark:",
    Status.CLOSED: ":lock:",
}

EVENT_EMOJI = {
    "status": ":arrows_counterclockwise:",
    "severity": ":rotating_light:",
    "role": ":bust_in_silhouette:",
    "note": ":memo:",
    "pinned": ":pushpin:",
    "declared": ":fire:",
    "runbook": ":clipboard:",
    "reminder": ":alarm_clock:",
    "change": ":package:",
    "cause": ":dart:",
    "action": ":zap:",
    "update": ":mega:",
}

TEXT_MAX = 3000  # characters in one text object


def mrkdwn(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def who(user: str | None) -> str:
    """A Slack user as a mention; warroom itself or an integration as plain text."""
    if not user:
        return "_unassigned_"
    return f"<@{user}>" if is_user_id(user) else escape(user)


def input_block(
    block_id: str, label: str, element: Block, *, optional: bool = False, hint: str | None = None
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def options(values: list[tuple[str, str]]) -> list[Block]:
    return [{"text": {"type": "plain_text", "text": label[:75]}, "value": value} for value, label in values]


def fit(text: str, limit: int = TEXT_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listing(lines: list[str], what: str, limit: int = TEXT_MAX) -> str:
    """As many lines as fit in one text object, then how many were left out."""
    shown: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        more = f"…and {len(lines) - i} more {what}"
        if used + len(line) + 1 + len(more) > limit:
            return "\n".join([*shown, more])
        shown.append(line)
        used += len(line) + 1
    return "\n".join(shown)


def modal(
    title: str,
    blocks: list[Block],
    *,
    callback_id: str | None = None,
    metadata: str | None = None,
    submit: str | None = None,
    close: str = "Cancel",
) -> dict[str, Any]:
    """A modal view: a title (Slack allows 24 characters), blocks, and, for a form, the
    callback id its submission arrives with, what it carries, and its submit button."""
    view: dict[str, Any] = {"type": "modal", "title": {"type": "plain_text", "text": title[:24]}}
    if callback_id is not None:
        view["callback_id"] = callback_id
    if metadata is not None:
        view["private_metadata"] = metadata
    if submit is not None:
        view["submit"] = {"type": "plain_text", "text": submit}
    view["close"] = {"type": "plain_text", "text": close}
    view["blocks"] = blocks
    return view
