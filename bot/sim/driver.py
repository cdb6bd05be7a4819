"""Requests exactly as Slack sends them to an app: slash commands, block_actions,
view_submission and event_callback, signed with X-Slack-Signature / X-Slack-Request-Timestamp.

`SlackDriver` plays the people in the workspace: it mints trigger ids and response URLs from
the simulator, so what the app does with them can be checked there. With `socket=True` the
same payloads travel as Socket Mode envelopes over the app's WebSocket instead, and the app's
acknowledgement comes back as the response.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from bot.sim.server import SlackSimulator
from bot.sim.slack_model import APP_ID, TEAM_ID


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: bytes, content_type: str, *, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(secret, ts, body),
    }


class SlackDriver:
    def __init__(
        self,
        http: httpx.AsyncClient,
        sim: SlackSimulator,
        signing_secret: str,
        *,
        path: str = "/slack/events",
        command_name: str = "/incident",
        socket: bool = False,
    ) -> None:
        self.http = http
        self.sim = sim
        self.secret = signing_secret
        self.path = path
        self.command_name = command_name
        self.socket = socket
        self._ids = itertools.count(1)

    async def post(
        self, body: bytes, content_type: str, *, extra_headers: dict[str, str] | None = None
    ) -> httpx.Response:
        if self.socket:
            return await self._over_socket(body, content_type)
        headers = signed_headers(self.secret, body, content_type)
        headers.update(extra_headers or {})
        return await self.http.post(self.path, content=body, headers=headers)

    async def _over_socket(self, body: bytes, content_type: str) -> httpx.Response:
        """The HTTP body's payload in a Socket Mode envelope; the acknowledgement as a 200."""
        if content_type == "application/json":
            kind, payload = "events_api", json.loads(body)
        else:
            form = dict(parse_qsl(body.decode()))
            if "payload" in form:
                kind, payload = "interactive", json.loads(form["payload"])
            else:
                kind, payload = "slash_commands", dict(form)
        acknowledged = await self.sim.socket_deliver(kind, payload)
        return httpx.Response(200, json=acknowledged)

    def _user(self, user: str) -> dict[str, str]:
        name = self.sim.name_of(user)
        return {"id": user, "username": name, "name": name, "team_id": TEAM_ID}

    # ------------------------------------------------------------ slash commands

    def command_body(self, user: str, text: str, channel: str) -> bytes:
        channel_name = self.sim.channels[channel].name if channel in self.sim.channels else "directmessage"
        form = {
            "token": "verification-token-unused",
            "team_id": TEAM_ID,
            "team_domain": "simulated",
            "channel_id": channel,
            "channel_name": channel_name,
            "user_id": user,
            "user_name": self.sim.name_of(user),
            "command": self.command_name,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.sim.response_url(),
            "trigger_id": self.sim.new_trigger_id(),
        }
        return urlencode(form).encode()

    async def command(self, user: str, text: str, channel: str) -> httpx.Response:
        return await self.post(self.command_body(user, text, channel), "application/x-www-form-urlencoded")

    # ------------------------------------------------------------ interactivity

    async def _interactive(self, payload: dict[str, Any]) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, "application/x-www-form-urlencoded")

    async def click(
        self,
        user: str,
        channel: str,
        message_ts: str,
        action_id: str,
        *,
        value: str | None = None,
        claimed_channel: str | None = None,
    ) -> httpx.Response:
        """Press the button `action_id` on a message the app posted. `value` and
        `claimed_channel` forge what the click says (security tests play the attacker)."""
        message = self.sim.channels[channel].message(message_ts)
        assert message is not None, f"no message {message_ts} in {channel}"
        block, element = _find_action(message.get("blocks", []), action_id)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": "verification-token-unused",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": self.sim.new_trigger_id(),
            "team": {"id": TEAM_ID, "domain": "simulated"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": claimed_channel or channel, "name": self.sim.channels[channel].name},
            "message": message,
            "state": {"values": {}},
            "response_url": self.sim.response_url(),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block.get("block_id", ""),
                    "text": element.get("text", {}),
                    "value": element.get("value", "") if value is None else value,
                    "style": element.get("style"),
                    "type": element["type"],
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return await self._interactive(payload)

    async def submit(self, user: str, view_id: str, values: dict[str, Any]) -> httpx.Response:
        """Submit an open modal; `values` maps block_id to the value typed or chosen."""
        view = self.sim.views[view_id]
        state: dict[str, dict[str, Any]] = {}
        for block in view.get("blocks", []):
            if block.get("type") != "input":
                continue
            element = block["element"]
            if block["block_id"] in values:
                value = _element_state(element, values[block["block_id"]])
            elif (initial := _initial_state(element)) is not None:  # left as the form showed it
                value = initial
            else:
                continue
            state[block["block_id"]] = {element["action_id"]: value}
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "simulated"},
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": "verification-token-unused",
            "trigger_id": self.sim.new_trigger_id(),
            "view": {**view, "state": {"values": state}},
            "response_urls": [],
            "is_enterprise_install": False,
        }
        return await self._interactive(payload)

    # ------------------------------------------------------------ events

    def event_body(self, event: dict[str, Any], event_id: str | None = None) -> bytes:
        envelope = {
            "token": "verification-token-unused",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):010d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": "U0WARROOM", "is_bot": True}],
            "is_ext_shared_channel": False,
        }
        return json.dumps(envelope).encode()

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None
    ) -> httpx.Response:
        headers = {}
        if retry_num:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(self.event_body(event, event_id), "application/json", extra_headers=headers)

    async def react(
        self, user: str, channel: str, ts: str, reaction: str = "pushpin", *, event_id: str | None = None
    ) -> httpx.Response:
        message = self.sim.channels[channel].message(ts) or {}
        event = {
            "type": "reaction_added",
            "user": user,
            "reaction": reaction,
            "item_user": message.get("user"),
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": f"{time.time():.6f}",
        }
        return await self.event(event, event_id=event_id)

    async def open_home(self, user: str) -> httpx.Response:
        event = {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0HOME",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        return await self.event(event)


def _find_action(blocks: list[dict[str, Any]], action_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for block in blocks:
        candidates = (
            block.get("elements", []) if block.get("type") == "actions" else [block.get("accessory") or {}]
        )
        for element in candidates:
            if element.get("action_id") == action_id:
                return block, element
    raise AssertionError(f"no element with action_id {action_id!r} on that message")


def _initial_state(element: dict[str, Any]) -> dict[str, Any] | None:
    """What Slack reports for an input nobody touched: its initial value, if it has one."""
    kind = element["type"]
    if "initial_option" in element:
        return {"type": kind, "selected_option": element["initial_option"]}
    if "initial_value" in element:
        return {"type": kind, "value": element["initial_value"]}
    return None


def _element_state(element: dict[str, Any], value: Any) -> dict[str, Any]:
    kind = element["type"]
    if kind in ("static_select", "radio_buttons"):
        option = next((o for o in element["options"] if o["value"] == value), None)
        assert option is not None, f"{value!r} is not an option of {element['action_id']}"
        return {"type": kind, "selected_option": option}
    if kind == "users_select":
        return {"type": kind, "selected_user": value}
    if kind == "datepicker":  # value: YYYY-MM-DD
        return {"type": kind, "selected_date": value}
    if kind == "checkboxes":  # value: the option values ticked
        return {"type": kind, "selected_options": [o for o in element["options"] if o["value"] in value]}
    return {"type": kind, "value": value}
