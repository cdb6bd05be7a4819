"""The simulator answers as Slack does: documented error codes, required arguments, Block Kit
limits, and the faults it is asked to inject."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sim.server import SlackSimulator
from bot.sim.slack_model import APP_TOKEN, BOT_TOKEN

# ../shared beside the checkout (where the workplace lays it, for CI too), or WARROOM_SHARED_DIR.
SHARED = Path(os.environ.get("WARROOM_SHARED_DIR") or Path(__file__).resolve().parents[3] / "shared")
REFERENCE = SHARED / "reference" / "slack-api-ref" / "methods"
# Errors every method can return although the reference lists them for some only.
GENERIC = {"invalid_auth", "not_authed", "invalid_arguments", "unknown_method"}


def documented_errors(method: str) -> set[str]:
    files = list(REFERENCE.glob(f"*/{method}.json"))
    assert files, f"{method} is not in the reference"
    return set(json.loads(files[0].read_text())["errors"])


@pytest.fixture
def client(sim: SlackSimulator) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=sim.api_url)


async def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as raised:
        await call
    return str(raised.value.response["error"])


async def test_every_error_the_simulator_gives_is_documented(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    if not REFERENCE.exists():
        pytest.skip(
            f"no Slack API reference at {REFERENCE}: put shared/ beside the checkout (or set "
            "WARROOM_SHARED_DIR) to check the simulator's errors against Slack's documentation"
        )
    user = sim.add_user("dana", email="dana@example.com")
    channel = sim.add_channel("ops", members=[user])  # warroom is not a member
    outsider = sim.add_user("erin")
    mine = (await client.conversations_create(name="inc-1-x"))["channel"]["id"]
    posted = (await client.chat_postMessage(channel=mine, text="hi"))["ts"]
    foreign = sim.user_post(user, mine, "from a person")
    await client.pins_add(channel=mine, timestamp=posted)
    await client.conversations_invite(channel=mine, users=user)
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: client.conversations_create(name="inc-1-x"),
        lambda: client.conversations_create(name="Has Spaces"),
        lambda: client.conversations_create(name="x" * 81),
        lambda: client.conversations_create(name=""),
        lambda: client.conversations_invite(channel=mine, users=user),
        lambda: client.conversations_invite(channel=mine, users="U404"),
        lambda: client.conversations_invite(channel=channel, users=user),
        lambda: client.conversations_invite(channel="C404", users=user),
        lambda: client.conversations_setTopic(channel=mine, topic="t" * 251),
        lambda: client.conversations_info(channel="C404"),
        lambda: client.chat_postMessage(channel=mine),
        lambda: client.chat_postMessage(channel="C404", text="x"),
        lambda: client.chat_postMessage(channel=mine, blocks=[{"type": "section"}] * 51),
        lambda: client.chat_update(channel=mine, ts="1.0", text="x"),
        lambda: client.chat_update(channel=mine, ts=foreign, text="x"),
        lambda: client.chat_postEphemeral(channel=mine, user=outsider, text="x"),
        lambda: client.pins_add(channel=mine, timestamp=posted),
        lambda: client.pins_add(channel=mine, timestamp="1.0"),
        lambda: client.users_info(user="U404"),
        lambda: client.users_lookupByEmail(email="nobody@example.com"),
        lambda: client.views_open(
            trigger_id="bogus",
            view={"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []},
        ),
        lambda: client.views_update(
            view_id="V404", view={"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []}
        ),
        lambda: client.bookmarks_add(channel_id=mine, title="x", type="file"),
        lambda: client.conversations_archive(channel="C404"),
    ]
    for index, call in enumerate(calls):
        with pytest.raises(SlackApiError):
            await call()
        assert sim.calls[-1].error, f"call {index} did not fail"
    await client.conversations_archive(channel=mine)
    await error_of(client.chat_postMessage(channel=mine, text="x"))
    await error_of(client.conversations_archive(channel=mine))

    emitted = {(c.method, c.error) for c in sim.calls if c.error}
    assert len(emitted) >= 20
    for method, error in sorted(emitted):
        assert error in documented_errors(method) | GENERIC, (
            f"{method} answered {error}, which Slack does not document"
        )


async def test_auth_is_checked(sim: SlackSimulator) -> None:
    assert (
        await error_of(AsyncWebClient(token="xoxb-wrong", base_url=sim.api_url).auth_test()) == "invalid_auth"
    )
    assert await error_of(AsyncWebClient(base_url=sim.api_url).auth_test()) == "not_authed"


async def test_app_level_and_bot_tokens_are_not_interchangeable(sim: SlackSimulator) -> None:
    app_client = AsyncWebClient(token=APP_TOKEN, base_url=sim.api_url)
    assert await error_of(app_client.auth_test()) == "not_allowed_token_type"
    bot_client = AsyncWebClient(token=BOT_TOKEN, base_url=sim.api_url)
    assert await error_of(bot_client.apps_connections_open(app_token=BOT_TOKEN)) == "not_allowed_token_type"


async def test_socket_mode_hello_envelopes_and_acknowledgements(sim: SlackSimulator) -> None:
    opened = await AsyncWebClient(base_url=sim.api_url).apps_connections_open(app_token=APP_TOKEN)
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(opened["url"]) as socket:
            hello = await socket.receive_json()
            assert hello["type"] == "hello" and sim.socket_connected

            async def app() -> None:  # acknowledges the envelope with a response payload
                envelope = await socket.receive_json()
                assert (envelope["type"], envelope["accepts_response_payload"]) == ("slash_commands", True)
                await socket.send_json({"envelope_id": envelope["envelope_id"], "payload": {"text": "ok"}})

            answering = asyncio.create_task(app())
            assert await sim.socket_deliver("slash_commands", {"command": "/incident"}) == {"text": "ok"}
            await answering
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:  # a ticket opens one connection
            await http.ws_connect(opened["url"])
        assert refused.value.status == 401
    assert not sim.socket_connected


async def test_block_kit_limits(sim: SlackSimulator, client: AsyncWebClient) -> None:
    channel = sim.add_channel("ops", members=["U0WARROOM"])
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    await client.chat_postMessage(channel=channel, blocks=[section] * 50, text="fallback")
    assert await error_of(client.chat_postMessage(channel=channel, blocks=[section] * 51)) == "invalid_blocks"
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    assert await error_of(client.chat_postMessage(channel=channel, blocks=[too_long])) == "invalid_blocks"
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    assert await error_of(client.chat_postMessage(channel=channel, blocks=[header])) == "invalid_blocks"


async def test_injected_faults(sim: SlackSimulator, client: AsyncWebClient) -> None:
    sim.inject("auth.test", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        await client.auth_test()
    assert raised.value.response.status_code == 429 and raised.value.response.headers["Retry-After"] == "7"

    sim.inject("auth.test", status=500)
    assert await error_of(client.auth_test()) == "internal_error"

    sim.inject("auth.test", drop=True, times=None)  # slack_sdk retries a dropped connection once
    with pytest.raises(aiohttp.ClientError):
        await client.auth_test()
    assert [c.error for c in sim.calls[-2:]] == ["dropped", "dropped"]
    sim.clear_faults()

    sim.inject("auth.test", delay=0.2, status=200)
    started = time.monotonic()
    assert (await client.auth_test())["ok"]
    assert time.monotonic() - started >= 0.2

    await sim.go_down()
    with pytest.raises(aiohttp.ClientConnectorError):
        await client.auth_test()
    await sim.come_up()
    assert (await client.auth_test())["user_id"] == "U0WARROOM"


async def test_trigger_ids_are_single_use(sim: SlackSimulator, client: AsyncWebClient) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": []}
    trigger = sim.new_trigger_id()
    opened = await client.views_open(trigger_id=trigger, view=view)
    assert opened["view"]["id"] in sim.views
    assert await error_of(client.views_open(trigger_id=trigger, view=view)) == "exchanged_trigger_id"


async def test_file_upload_flow(sim: SlackSimulator, client: AsyncWebClient) -> None:
    channel = sim.add_channel("ops", members=["U0WARROOM"])
    upload = await client.files_getUploadURLExternal(filename="pm.md", length=5)
    async with (
        aiohttp.ClientSession() as session,
        session.post(upload["upload_url"], data=b"hello") as response,
    ):
        assert response.status == 200
    await client.files_completeUploadExternal(
        files=[{"id": upload["file_id"], "title": "Post-mortem"}], channel_id=channel
    )
    assert sim.files[upload["file_id"]]["content"] == b"hello"
    assert sim.channels[channel].messages[-1]["files"][0]["title"] == "Post-mortem"
