"""A Slack Web API simulator: a real HTTP server on 127.0.0.1 that keeps state.

It answers the methods warroom uses with Slack's own response shapes and error codes (see
shared/reference/slack-api-ref), records every call, captures response_url posts and file
uploads, and injects faults on demand: 429 with Retry-After, 500, slow answers, dropped
connections, or no server at all (`go_down`).

Tests run it on their own event loop (`await sim.start()`); benchmarks and the demo may run it
on a thread of its own (`start_in_thread`).
"""

from __future__ import annotations

import asyncio
import collections
import fnmatch
import itertools
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# Slack's published tiers: the same table warroom's budget follows.
from bot.slack.ratelimit import PER_MINUTE, POST_PER_CHANNEL_PER_MINUTE, TIERS

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
class Fault:
    method: str  # glob on the method name, "*" for all
    status: int = 500
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False
    times: int | None = 1  # None: until cleared
    late: float = 0.0  # the request reaches Slack this much later (the network on the way in)

    def matches(self, method: str) -> bool:
        return fnmatch.fnmatchcase(method, self.method) and (self.times is None or self.times > 0)


@dataclass
class Call:
    at: float
    method: str
    args: Args
    error: str | None = None
    status: int = 200


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


class SlackSimulator:
    def __init__(
        self, *, latency: float = 0.0, public_write: bool = True, rate_period: float | None = None
    ) -> None:
        self.latency = latency  # added to every Web API call
        self.clock: Callable[[], float] = time.time  # message timestamps (a story may simulate it)
        self.public_write = public_write  # the app holds chat:write.public
        # Slack's rate limits, enforced when set: the length of Slack's minute in seconds.
        self.rate_period = rate_period
        self._recent: dict[str, collections.deque[float]] = {}
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
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
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        # Socket Mode: tickets handed out by apps.connections.open, open sockets, and the
        # envelopes delivered over them still waiting for the app's acknowledgement.
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[Args]] = {}
        self.users[BOT_USER_ID] = self._user_record(BOT_USER_ID, "warroom", "warroom", None, is_bot=True)

    # ------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=2 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._handle_api)
        app.router.add_get("/api/{method}", self._handle_api)
        app.router.add_post("/response/{token}", self._handle_response_url)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_get("/link/", self._handle_socket)
        return app

    async def start(self) -> SlackSimulator:
        self._runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await self.come_up()
        return self

    async def come_up(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        if not self.port:
            server: Any = self._site._server
            self.port = server.sockets[0].getsockname()[1]

    async def go_down(self) -> None:
        """Stop listening and drop open connections: clients get 'connection refused' until
        come_up(), pooled keep-alive connections included."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        server = self._runner.server if self._runner is not None else None
        for connection in list(server.connections if server is not None else []):
            connection.force_close()
        for socket in list(self._sockets):
            await socket.close()

    async def stop(self) -> None:
        await self.go_down()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self) -> SlackSimulator:
        """Serve from a thread with its own event loop, apart from the code under test."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._thread_loop = loop
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, name="slack-simulator", daemon=True).start()
        ready.wait(10)
        return self

    def stop_thread(self) -> None:
        loop = self._thread_loop
        if loop is not None:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)

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

    def response_url(self) -> str:
        return f"{self.base_url}/response/{next(self._ids)}"

    def inject(
        self,
        method: str = "*",
        *,
        status: int = 500,
        retry_after: int | None = None,
        delay: float = 0.0,
        drop: bool = False,
        times: int | None = 1,
        late: float = 0.0,
    ) -> Fault:
        fault = Fault(method, status, retry_after, delay, drop, times, late)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def count(self, method: str, *, ok: bool | None = True) -> int:
        with self.lock:
            return sum(
                1 for c in self.calls if c.method == method and (ok is None or (c.error is None) == ok)
            )

    def busiest(self, method: str, period: float) -> int:
        """The most calls of `method` (any answer) that fell in any `period` seconds."""
        with self.lock:
            times = sorted(c.at for c in self.calls if c.method == method)
        start, most = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= period:
                start += 1
            most = max(most, end - start + 1)
        return most

    def channel_named(self, name: str) -> Channel | None:
        with self.lock:
            return next((c for c in self.channels.values() if c.name == name), None)

    def messages(self, channel: str) -> list[Args]:
        with self.lock:
            return list(self.channels[channel].messages)

    def name_of(self, user: str) -> str:
        return str(self.users.get(user, {}).get("name", user))

    # ------------------------------------------------------------ HTTP

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        arrived = loop.time()
        method = request.match_info["method"]
        args = await _read_args(request)
        fault = self._take_fault(method)
        if fault and fault.late:
            await asyncio.sleep(fault.late)
            arrived = loop.time()
        # `latency` is the whole round trip as the client sees it: the answer leaves that
        # long after the request came in, however long the simulator itself took.
        deadline = arrived + self.latency + (fault.delay if fault else 0.0)
        status: int = 200
        headers: dict[str, str] = {}
        error: str | None = None
        body: Args = {}
        retry_after = self._over_rate_limit(method, args, arrived)
        if fault is None and retry_after is not None:
            status, error, body = 429, "ratelimited", {"ok": False, "error": "ratelimited"}
            headers = {"Retry-After": str(retry_after)}
        elif fault and fault.drop:
            error = "dropped"
        elif fault and fault.status >= 400:
            status, error = fault.status, "ratelimited" if fault.status == 429 else "internal_error"
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            body = {"ok": False, "error": error}
        else:
            body = self._call(method, request, args)
            error = None if body["ok"] else str(body["error"])
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        self._record(method, args, error, status)
        if error == "dropped":
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPInternalServerError()  # never reaches the client
        return web.json_response(body, status=status, headers=headers)

    def _over_rate_limit(self, method: str, args: Args, now: float) -> int | None:
        """Seconds to wait (Retry-After) when this call is over Slack's limit, else None.
        Slack counts calls per method in sliding minutes by tier, and chat.postMessage per
        channel (about one a second)."""
        if self.rate_period is None:
            return None
        if method == "chat.postMessage":
            key, limit = f"{method}:{args.get('channel')}", POST_PER_CHANNEL_PER_MINUTE
        else:
            key, limit = method, PER_MINUTE[TIERS.get(method, 3)]
        with self.lock:
            recent = self._recent.setdefault(key, collections.deque())
            while recent and recent[0] <= now - self.rate_period:
                recent.popleft()
            if len(recent) >= limit:
                return max(1, math.ceil(recent[0] + self.rate_period - now))
            recent.append(now)
        return None

    def _call(self, method: str, request: web.Request, args: Args) -> Args:
        handler: Callable[[Args], Args] | None = getattr(self, "m_" + method.replace(".", "_"), None)
        try:
            with self.lock:
                self._authenticate(request, args, method)
                if handler is None:
                    raise SlackError("unknown_method")
                return {"ok": True, **handler(args)}
        except SlackError as exc:
            return {"ok": False, "error": exc.code}

    # ------------------------------------------------------------ Socket Mode

    def m_apps_connections_open(self, args: Args) -> Args:
        ticket = f"{next(self._ids)}-{int(time.time())}"
        self._tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"}

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        """A Socket Mode connection: hello, then envelopes out and acknowledgements in."""
        with self.lock:
            ticket = request.query.get("ticket", "")
            if ticket not in self._tickets:
                return web.Response(status=401, text="invalid ticket")
            self._tickets.discard(ticket)  # a ticket opens one connection
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "simulator", "approximate_connection_time": 3600},
                "connection_info": {"app_id": APP_ID},
            }
        )
        try:
            async for message in socket:
                if message.type != web.WSMsgType.TEXT:
                    continue
                answer = json.loads(message.data)
                waiting = self._acks.pop(str(answer.get("envelope_id")), None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(answer.get("payload") or {})
        finally:
            self._sockets.remove(socket)
        return socket

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    async def socket_deliver(self, kind: str, payload: Args) -> Args:
        """Send an envelope (`slash_commands`, `interactive` or `events_api`) to the app over
        its socket, as Slack does; return the payload of its acknowledgement."""
        if not self._sockets:
            raise ConnectionError("no Socket Mode connection is open")
        envelope_id = f"{next(self._ids):08d}-sim-envelope"
        acknowledged: asyncio.Future[Args] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = acknowledged
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        try:
            async with asyncio.timeout(3):  # Slack gives up on an unacknowledged envelope
                return await acknowledged
        finally:
            self._acks.pop(envelope_id, None)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            self.responses.append({"url": str(request.url), **body})
        return web.Response(text="ok")

    async def _handle_upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        with self.lock:
            if file_id not in self.files:
                return web.Response(status=404, text="unknown upload")
            self.files[file_id]["content"] = data
        return web.Response(text=f"OK - {len(data)}")

    def _take_fault(self, method: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _record(self, method: str, args: Args, error: str | None, status: int) -> None:
        with self.lock:
            self.calls.append(Call(time.monotonic(), method, args, error, status))

    def _authenticate(self, request: web.Request, args: Args, method: str) -> None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header else args.get("token", "")
        if not token:
            raise SlackError("not_authed")
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            raise SlackError("not_allowed_token_type" if token in (APP_TOKEN, BOT_TOKEN) else "invalid_auth")

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
        blocks = _json_arg(args, "blocks")
        if blocks is not None:
            check_blocks(blocks, limit=50)
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        return text, blocks

    # ------------------------------------------------------------ methods

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
        channel = self._new_channel(name, _flag(a.get("is_private")), creator=BOT_USER_ID)
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
        exclude_archived = _flag(a.get("exclude_archived"))
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
        inclusive = _flag(a.get("inclusive"))
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
        metadata = _json_arg(a, "metadata")
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

    def m_files_getUploadURLExternal(self, a: Args) -> Args:
        filename = str(a.get("filename") or "")
        length = a.get("length")
        if not filename or length in (None, ""):
            raise SlackError("missing_argument")
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = {"id": file_id, "name": filename, "length": int(length), "content": None}
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def m_files_completeUploadExternal(self, a: Args) -> Args:
        files = _json_arg(a, "files")
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

    # ------------------------------------------------------------ transcript

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


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def _json_arg(args: Args, key: str) -> Any:
    value = args.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError("invalid_blocks_format" if key == "blocks" else "invalid_arguments") from None
    return value


async def _read_args(request: web.Request) -> Args:
    args: Args = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                args.update(body)
        else:
            args.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return args
