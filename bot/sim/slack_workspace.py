"""The simulated workspace's state: people, channels, messages, views, files and user groups,
with the helpers tests use to act as a person (join, post, edit a profile) and to read a
channel as a person would (bot/sim/server.py serves it over HTTP)."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable

from bot.sim.slack_model import (
    BOT_USER_ID,
    TEAM_ID,
    Args,
    Channel,
    SlackError,
    check_blocks,
    json_arg,
    message_text,
)


class Workspace:
    """One Slack workspace: everything under `lock`, which the server's threads share."""

    def __init__(self, *, public_write: bool = True) -> None:
        self.clock: Callable[[], float] = time.time  # message timestamps (a story may simulate it)
        self.public_write = public_write  # the app holds chat:write.public
        self.lock = threading.RLock()
        self.users: dict[str, Args] = {}
        self.channels: dict[str, Channel] = {}
        self.views: dict[str, Args] = {}
        self.home: dict[str, Args] = {}
        self.ephemeral: list[Args] = []
        self.responses: list[Args] = []
        self.files: dict[str, Args] = {}
        self.usergroups: dict[str, set[str]] = {}  # id -> members
        self.triggers: dict[str, tuple[float, bool]] = {}
        self._ids = itertools.count(1)
        self._ts_last = 0.0
        self.users[BOT_USER_ID] = self._user_record(BOT_USER_ID, "warroom", "warroom", None, is_bot=True)

    # ------------------------------------------------------------ test helpers

    def add_usergroup(self, members: list[str]) -> str:
        with self.lock:
            group = f"S{next(self._ids):08d}"
            self.usergroups[group] = set(members)
            return group

    def add_user(self, name: str, *, email: str | None = None, real_name: str | None = None) -> str:
        with self.lock:
            user_id = f"U{next(self._ids):08d}"
            self.users[user_id] = self._user_record(user_id, name, real_name or name.title(), email)
            return user_id

    def change_user(
        self, user_id: str, *, real_name: str | None = None, name: str | None = None, deleted: bool = False
    ) -> Args:
        """A person edits their profile, or an admin deactivates them; returns the user
        object a `user_change` event carries."""
        with self.lock:
            user = self.users[user_id]
            if real_name is not None:
                user["real_name"] = user["profile"]["real_name"] = real_name
            if name is not None:
                user["name"] = user["profile"]["display_name"] = name
            user["deleted"] = deleted
            user["updated"] = int(time.time())
            copy: Args = json.loads(json.dumps(user))
            return copy

    def join(self, user: str, channel: str) -> Args:
        """A person joins a channel; returns the `member_joined_channel` event Slack sends."""
        with self.lock:
            self.channels[channel].members.add(user)
            kind = "G" if self.channels[channel].is_private else "C"
            return {
                "type": "member_joined_channel",
                "user": user,
                "channel": channel,
                "channel_type": kind,
                "team": TEAM_ID,
                "event_ts": self._next_ts(),
            }

    def add_channel(self, name: str, *, members: list[str] | None = None, private: bool = False) -> str:
        with self.lock:
            channel = self._new_channel(name, private, creator=(members or [BOT_USER_ID])[0])
            channel.members.update(members or [])
            return channel.id

    def user_post(self, user: str, channel: str, text: str) -> str:
        """A person writes in a channel; returns the message ts."""
        with self.lock:
            ts = self._next_ts()
            self.channels[channel].messages.append({"type": "message", "user": user, "text": text, "ts": ts})
            return ts

    def new_trigger_id(self) -> str:
        with self.lock:
            trigger = f"{next(self._ids)}.{int(time.time())}.simtrigger"
            self.triggers[trigger] = (time.monotonic() + 3.0, False)
            return trigger

    def channel_named(self, name: str) -> Channel | None:
        with self.lock:
            return next((c for c in self.channels.values() if c.name == name), None)

    def messages(self, channel: str) -> list[Args]:
        with self.lock:
            return list(self.channels[channel].messages)

    def name_of(self, user: str) -> str:
        return str(self.users.get(user, {}).get("name", user))

    def transcript(self, channel: str) -> list[str]:
        """What a person would read in a channel, one line per message, mentions resolved."""
        with self.lock:
            lines = []
            for message in self.channels[channel].messages:
                who = self.name_of(message.get("user", "")) if message.get("user") else "app"
                pinned = " [pinned]" if message["ts"] in self.channels[channel].pins else ""
                body = message_text(message)
                for f in message.get("files", []):
                    body += f" [file: {f['name']}]"
                lines.append(f"{who}{pinned}: {self.resolve_mentions(body)}".replace("\n", " "))
            return lines

    def resolve_mentions(self, text: str) -> str:
        text = re.sub(r"<@(\w+)(?:\|[^>]*)?>", lambda m: "@" + self.name_of(m.group(1)), text)
        text = re.sub(
            r"<#(\w+)(?:\|[^>]*)?>",
            lambda m: "#" + (self.channels[m.group(1)].name if m.group(1) in self.channels else m.group(1)),
            text,
        )
        text = re.sub(r"<!date\^[^|>]*\|([^>]*)>", r"\1", text)
        text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")

    # ------------------------------------------------------------ state helpers

    def _next_ts(self) -> str:
        now = max(self.clock(), self._ts_last + 0.000001)
        self._ts_last = now
        return f"{now:.6f}"

    def _user_record(
        self, user_id: str, name: str, real_name: str, email: str | None, is_bot: bool = False
    ) -> Args:
        profile: Args = {"real_name": real_name, "display_name": name}
        if email:
            profile["email"] = email
        return {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": real_name,
            "deleted": False,
            "is_bot": is_bot,
            "tz": "UTC",
            "profile": profile,
        }

    def _new_channel(self, name: str, private: bool, creator: str) -> Channel:
        channel = Channel(
            id=f"C{next(self._ids):08d}",
            name=name,
            is_private=private,
            created=int(time.time()),
            creator=creator,
        )
        channel.members.add(creator)
        self.channels[channel.id] = channel
        return channel

    def _channel(self, args: Args, key: str = "channel") -> Channel:
        ref = str(args.get(key) or "")
        if not ref:
            raise SlackError("channel_not_found")
        channel = self.channels.get(ref)
        if channel is None:
            name = ref.removeprefix("#")
            channel = next((c for c in self.channels.values() if c.name == name), None)
        if channel is None:
            raise SlackError("channel_not_found")
        if channel.is_private and BOT_USER_ID not in channel.members:
            raise SlackError("channel_not_found")
        return channel

    def _writable(self, channel: Channel) -> None:
        if channel.is_archived:
            raise SlackError("is_archived")
        if BOT_USER_ID not in channel.members and not (self.public_write and not channel.is_private):
            raise SlackError("not_in_channel")

    def _content(self, args: Args) -> tuple[str, list[Args] | None]:
        text = str(args.get("text") or "")
        blocks = json_arg(args, "blocks")
        if blocks is not None:
            check_blocks(blocks, limit=50)
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        return text, blocks
