"""A Slack Web API simulator: a real HTTP server on 127.0.0.1 that keeps state.

It answers the methods warroom uses with Slack's own response shapes and error codes (see
shared/reference/slack-api-ref), records every call, captures response_url posts and file
uploads, enforces Slack's rate limits when given its minute (`rate_period`), and injects
faults on demand: 429 with Retry-After, 500, slow answers, requests that arrive late, dropped
connections, or no server at all (`go_down`).

Tests run it on their own event loop (`await sim.start()`); benchmarks and the demo may run it
on a thread of its own (`start_in_thread`).
"""

from __future__ import annotations

import asyncio
import collections
import fnmatch
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sim.slack_methods import SlackMethods
from bot.sim.slack_model import APP_ID, APP_TOKEN, BOT_TOKEN, Args, SlackError

# Slack's published tiers: the same table warroom's budget follows.
from bot.slack.ratelimit import PER_MINUTE, POST_PER_CHANNEL_PER_MINUTE, TIERS


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


class SlackSimulator(SlackMethods):
    """The workspace (bot/sim/slack_workspace.py) and its Web API methods
    (bot/sim/slack_methods.py), served: calls recorded, faults and rate limits applied,
    Socket Mode, response_url posts and file uploads."""

    def __init__(
        self, *, latency: float = 0.0, public_write: bool = True, rate_period: float | None = None
    ) -> None:
        super().__init__(public_write=public_write)
        self.latency = latency  # added to every Web API call
        # Slack's rate limits, enforced when set: the length of Slack's minute in seconds.
        self.rate_period = rate_period
        self._recent: dict[str, collections.deque[float]] = {}
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        # Socket Mode: tickets handed out by apps.connections.open, open sockets, and the
        # envelopes delivered over them still waiting for the app's acknowledgement.
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[Args]] = {}

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

    def m_files_getUploadURLExternal(self, a: Args) -> Args:
        filename = str(a.get("filename") or "")
        length = a.get("length")
        if not filename or length in (None, ""):
            raise SlackError("missing_argument")
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = {"id": file_id, "name": filename, "length": int(length), "content": None}
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

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
