"""The Slack Web API methods warroom calls, over the simulated workspace: Slack's response
shapes and error codes, as documented in shared/reference/slack-api-ref. A method is
`m_` and its name with dots as underscores; it runs under the workspace's lock and raises
SlackError for Slack's `{"ok": false, "error": ...}`."""

from __future__ import annotations

import re
import time

from bot.sim.slack_model import (
    BOT_ID,
    BOT_USER_ID,
    CHANNEL_NAME,
    TEAM_ID,
    Args,
    SlackError,
    check_view,
    flag,
    json_arg,
)
from bot.sim.slack_workspace import Workspace


class SlackMethods(Workspace):
    def m_auth_test(self, a: Args) -> Args:
        return {
            "url": "https://sim.slack.test/",
            "team": "Simulated",
            "user": "warroom",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def m_conversations_create(self, a: Args) -> Args:
        name = str(a.get("name") or "")
        if not name:
            raise SlackError("invalid_name_required")
        if len(name) > 80:
            raise SlackError("invalid_name_maxlength")
        if not CHANNEL_NAME.fullmatch(name):
            raise SlackError("invalid_name_specials")
        if any(c.name == name for c in self.channels.values()):
            raise SlackError("name_taken")
        channel = self._new_channel(name, flag(a.get("is_private")), creator=BOT_USER_ID)
        return {"channel": channel.info()}

    def m_conversations_invite(self, a: Args) -> Args:
        channel = self._channel(a)
        users = [u for u in str(a.get("users") or "").split(",") if u]
        if not users:
            raise SlackError("no_user")
        if channel.is_archived:
            raise SlackError("is_archived")
        if BOT_USER_ID not in channel.members:
            raise SlackError("not_in_channel")
        if BOT_USER_ID in users:
            raise SlackError("cant_invite_self")
        if any(u not in self.users for u in users):
            raise SlackError("user_not_found")
        new = [u for u in users if u not in channel.members]
        if not new:
            raise SlackError("already_in_channel")
        channel.members.update(new)
        return {"channel": channel.info()}

    def m_conversations_info(self, a: Args) -> Args:
        return {"channel": self._channel(a).info()}

    def m_conversations_list(self, a: Args) -> Args:
        exclude_archived = flag(a.get("exclude_archived"))
        channels = [c.info() for c in self.channels.values() if not (exclude_archived and c.is_archived)]
        return {"channels": channels, "response_metadata": {"next_cursor": ""}}

    def m_conversations_members(self, a: Args) -> Args:
        return {"members": sorted(self._channel(a).members), "response_metadata": {"next_cursor": ""}}

    def m_conversations_setTopic(self, a: Args) -> Args:
        channel = self._channel(a)
        topic = str(a.get("topic") or "")
        if len(topic) > 250:
            raise SlackError("too_long")
        if channel.is_archived:
            raise SlackError("is_archived")
        if BOT_USER_ID not in channel.members:
            raise SlackError("not_in_channel")
        channel.topic = topic
        return {"channel": channel.info()}

    def m_conversations_archive(self, a: Args) -> Args:
        channel = self._channel(a)
        if channel.is_archived:
            raise SlackError("already_archived")
        if BOT_USER_ID not in channel.members:
            raise SlackError("not_in_channel")
        channel.is_archived = True
        return {}

    def m_conversations_history(self, a: Args) -> Args:
        channel = self._channel(a)
        if BOT_USER_ID not in channel.members and channel.is_private:
            raise SlackError("not_in_channel")
        latest = float(a.get("latest") or "inf")
        oldest = float(a.get("oldest") or 0)
        inclusive = flag(a.get("inclusive"))
        limit = int(a.get("limit") or 100)

        def inside(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        found = [m for m in reversed(channel.messages) if inside(float(m["ts"]))]
        return {"messages": found[:limit], "has_more": len(found) > limit}

    def m_chat_postMessage(self, a: Args) -> Args:
        channel = self._channel(a)
        self._writable(channel)
        text, blocks = self._content(a)
        message: Args = {"type": "message", "bot_id": BOT_ID, "user": BOT_USER_ID, "text": text[:40000]}
        if blocks is not None:
            message["blocks"] = blocks
        if a.get("thread_ts"):
            message["thread_ts"] = str(a["thread_ts"])
        metadata = json_arg(a, "metadata")
        if metadata is not None:
            if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
                raise SlackError("invalid_metadata_format")
            message["metadata"] = {
                "event_type": metadata["event_type"],
                "event_payload": metadata.get("event_payload", {}),
            }
        message["ts"] = self._next_ts()
        channel.messages.append(message)
        return {"channel": channel.id, "ts": message["ts"], "message": message}

    def m_chat_update(self, a: Args) -> Args:
        channel = self._channel(a)
        message = channel.message(str(a.get("ts") or ""))
        if message is None:
            raise SlackError("message_not_found")
        if message.get("bot_id") != BOT_ID:
            raise SlackError("cant_update_message")
        text, blocks = self._content(a)
        if len(text) > 40000:
            raise SlackError("msg_too_long")
        message["text"] = text
        if blocks is not None:
            message["blocks"] = blocks
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        return {"channel": channel.id, "ts": message["ts"], "text": text, "message": message}

    def m_chat_postEphemeral(self, a: Args) -> Args:
        channel = self._channel(a)
        user = str(a.get("user") or "")
        if channel.is_archived:
            raise SlackError("is_archived")
        if user not in channel.members:
            raise SlackError("user_not_in_channel")
        text, blocks = self._content(a)
        ts = self._next_ts()
        self.ephemeral.append({"channel": channel.id, "user": user, "text": text, "blocks": blocks, "ts": ts})
        return {"message_ts": ts}

    def m_pins_add(self, a: Args) -> Args:
        channel = self._channel(a)
        ts = str(a.get("timestamp") or "")
        if not ts:
            raise SlackError("no_item_specified")
        if BOT_USER_ID not in channel.members:
            raise SlackError("not_in_channel")
        if channel.message(ts) is None:
            raise SlackError("message_not_found")
        if ts in channel.pins:
            raise SlackError("already_pinned")
        channel.pins.append(ts)
        return {}

    def m_reactions_add(self, a: Args) -> Args:
        channel = self._channel(a)
        message = channel.message(str(a.get("timestamp") or ""))
        if message is None:
            raise SlackError("message_not_found")
        name = str(a.get("name") or "")
        if not name:
            raise SlackError("invalid_name")
        reactions = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if BOT_USER_ID in reaction["users"]:
            raise SlackError("already_reacted")
        reaction["users"].append(BOT_USER_ID)
        reaction["count"] += 1
        return {}

    def m_bookmarks_add(self, a: Args) -> Args:
        channel = self._channel(a, "channel_id")
        if a.get("type") != "link":
            raise SlackError("invalid_bookmark_type")
        link = str(a.get("link") or "")
        if not re.match(r"https?://", link):
            raise SlackError("invalid_link")
        bookmark = {
            "id": f"Bk{next(self._ids):08d}",
            "channel_id": channel.id,
            "title": a.get("title"),
            "link": link,
        }
        channel.bookmarks.append(bookmark)
        return {"bookmark": bookmark}

    def m_users_info(self, a: Args) -> Args:
        user = self.users.get(str(a.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user}

    def m_users_lookupByEmail(self, a: Args) -> Args:
        email = str(a.get("email") or "").lower()
        user = next((u for u in self.users.values() if u["profile"].get("email", "").lower() == email), None)
        if user is None:
            raise SlackError("users_not_found")
        return {"user": user}

    def m_usergroups_users_list(self, a: Args) -> Args:
        group = str(a.get("usergroup") or "")
        if not group:
            raise SlackError("invalid_arguments")
        if group not in self.usergroups:
            raise SlackError("no_such_subteam")
        return {"users": sorted(self.usergroups[group])}

    def m_views_open(self, a: Args) -> Args:
        trigger = str(a.get("trigger_id") or "")
        known = self.triggers.get(trigger)
        if known is None:
            raise SlackError("invalid_trigger_id")
        expires, used = known
        if used:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() > expires:
            raise SlackError("expired_trigger_id")
        view = check_view(a.get("view"))
        self.triggers[trigger] = (expires, True)
        stored = {**view, "id": f"V{next(self._ids):08d}", "hash": str(time.time()), "state": {"values": {}}}
        self.views[stored["id"]] = stored
        return {"view": stored}

    def m_views_update(self, a: Args) -> Args:
        view_id = str(a.get("view_id") or "")
        if view_id not in self.views:
            raise SlackError("not_found")
        view = check_view(a.get("view"))
        stored = {**view, "id": view_id, "hash": str(time.time()), "state": {"values": {}}}
        self.views[view_id] = stored
        return {"view": stored}

    def m_views_publish(self, a: Args) -> Args:
        user = str(a.get("user_id") or "")
        if user not in self.users:
            raise SlackError("invalid_arguments")
        view = check_view(a.get("view"))
        if view["type"] != "home":
            raise SlackError("invalid_arguments")
        stored = {**view, "id": self.home.get(user, {}).get("id") or f"V{next(self._ids):08d}"}
        self.home[user] = stored
        return {"view": stored}

    def m_files_completeUploadExternal(self, a: Args) -> Args:
        files = json_arg(a, "files")
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments")
        done = []
        for item in files:
            stored = self.files.get(str(item.get("id")))
            if stored is None or stored["content"] is None:
                raise SlackError("file_not_found")
            stored["title"] = item.get("title") or stored["name"]
            done.append({"id": stored["id"], "title": stored["title"], "name": stored["name"]})
        if a.get("channel_id"):
            channel = self._channel(a, "channel_id")
            self._writable(channel)
            channel.messages.append(
                {
                    "type": "message",
                    "user": BOT_USER_ID,
                    "bot_id": BOT_ID,
                    "text": str(a.get("initial_comment") or ""),
                    "files": done,
                    "ts": self._next_ts(),
                }
            )
        return {"files": done}
