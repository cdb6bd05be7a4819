"""What the Slack simulator holds and checks, apart from any HTTP: Slack's ids for the app,
channels, the Block Kit limits Slack enforces (invalid_blocks), and messages as a person
reads them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

BOT_TOKEN = "xoxb-simulated-token"
APP_TOKEN = "xapp-simulated-token"  # app-level: only apps.connections.open takes it
APP_ID = "A0WARROOM"
TEAM_ID = "T0SIMTEAM"
BOT_USER_ID = "U0WARROOM"
BOT_ID = "B0WARROOM"
CHANNEL_NAME = re.compile(r"[a-z0-9_\-]+")

Args = dict[str, Any]


class SlackError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool
    created: int
    creator: str
    members: set[str] = field(default_factory=set)
    topic: str = ""
    is_archived: bool = False
    messages: list[Args] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)
    bookmarks: list[Args] = field(default_factory=list)

    def info(self, member: str = BOT_USER_ID) -> Args:
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_member": member in self.members,
            "created": self.created,
            "creator": self.creator,
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "num_members": len(self.members),
        }

    def message(self, ts: str) -> Args | None:
        return next((m for m in self.messages if m["ts"] == ts), None)


KNOWN_BLOCKS = {
    "section",
    "divider",
    "image",
    "actions",
    "context",
    "input",
    "header",
    "rich_text",
    "video",
    "file",
}


def check_blocks(blocks: Any, *, limit: int) -> None:
    """Block Kit limits Slack enforces; raise invalid_blocks like Slack does."""
    if not isinstance(blocks, list) or len(blocks) > limit:
        raise SlackError("invalid_blocks")
    ids: set[str] = set()
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") not in KNOWN_BLOCKS:
            raise SlackError("invalid_blocks")
        block_id = block.get("block_id")
        if block_id is not None:
            if len(block_id) > 255 or block_id in ids:
                raise SlackError("invalid_blocks")
            ids.add(block_id)
        text = block.get("text")
        if isinstance(text, dict):
            limit_for = 150 if block["type"] == "header" else 3000
            if not text.get("text") or len(text["text"]) > limit_for:
                raise SlackError("invalid_blocks")
        if len(block.get("fields", [])) > 10 or any(
            len(f.get("text", "")) > 2000 for f in block.get("fields", [])
        ):
            raise SlackError("invalid_blocks")
        elements = block.get("elements", [])
        if block["type"] == "actions" and not 0 < len(elements) <= 25:
            raise SlackError("invalid_blocks")
        if block["type"] == "context" and not 0 < len(elements) <= 10:
            raise SlackError("invalid_blocks")
        for element in elements:
            if element.get("type") == "button" and len(element.get("text", {}).get("text", "")) > 75:
                raise SlackError("invalid_blocks")
            if element.get("type") in ("mrkdwn", "plain_text") and len(element.get("text", "")) > 3000:
                raise SlackError("invalid_blocks")


def check_view(view: Any) -> Args:
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            raise SlackError("invalid_arguments") from None
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        raise SlackError("invalid_arguments")
    check_blocks(view.get("blocks", []), limit=100)
    if view["type"] == "modal":
        title = view.get("title", {}).get("text", "")
        if not title or len(title) > 24 or len(view.get("private_metadata", "")) > 3000:
            raise SlackError("invalid_arguments")
    return view


def message_text(message: Args) -> str:
    """Flatten a message's blocks (or text) into readable lines."""
    blocks = message.get("blocks")
    if not blocks:
        return str(message.get("text", ""))
    parts: list[str] = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        for f in block.get("fields", []):
            parts.append(f["text"])
        for element in block.get("elements", []):
            if element.get("type") in ("mrkdwn", "plain_text"):
                parts.append(element["text"])
            elif element.get("type") == "button":
                parts.append(f"[{element['text']['text']}]")
    return " | ".join(parts)


def flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def json_arg(args: Args, key: str) -> Any:
    value = args.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError("invalid_blocks_format" if key == "blocks" else "invalid_arguments") from None
    return value
