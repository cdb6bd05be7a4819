"""What every request from outside passes before anything parses it: a size cap, a read
deadline, and (for Slack) a signature checked over the raw bytes, once.

An answer here is always a small JSON error (400, 401, 408, 413): never a 500, and nothing
stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request

from bot.domain.text import JSON_MAX_DEPTH, json_too_deep

SLACK_MAX_BODY = 256 * 1024  # Slack's largest payloads (a view submission) are tens of KiB
SLACK_WINDOW = 300  # seconds: Slack's own replay window for X-Slack-Request-Timestamp
BODY_READ_TIMEOUT = 10.0  # seconds for the whole body: a sender that trickles it is cut off


class Refused(Exception):
    def __init__(self, status: int, error: str, *, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.retry_after = retry_after


async def read_body(request: Request, limit: int, *, seconds: float = BODY_READ_TIMEOUT) -> bytes:
    """The body, at most `limit` bytes, read within `seconds`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"body larger than {limit} bytes")
    body = bytearray()
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise Refused(413, f"body larger than {limit} bytes")
    except TimeoutError:
        raise Refused(408, f"body not received within {seconds:.0f} s") from None
    except ClientDisconnect:
        raise Refused(400, "the client went away before sending its body") from None
    return bytes(body)


class SlackGate:
    """Slack's request signing (v0), checked before anything parses the body, and a memory
    of the signatures accepted in the last five minutes so that a captured request cannot be
    replayed inside Slack's window: a replay is answered 200 and does nothing (Slack itself
    signs each retry anew, but a 200 is what a duplicate of anything should get)."""

    def __init__(
        self, secret: str, *, clock: Callable[[], float] = time.time, remember: int = 100_000
    ) -> None:
        self.secret = secret.encode()
        self.clock = clock
        self.remember = remember
        self._seen: OrderedDict[str, float] = OrderedDict()

    def verify(self, timestamp: str | None, signature: str | None, body: bytes) -> bool:
        """Refused (401) unless Slack signed this body in the last five minutes; False when
        it is a request already received (answer it, change nothing)."""
        if not timestamp or not signature:
            raise Refused(401, "X-Slack-Request-Timestamp and X-Slack-Signature are required")
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            raise Refused(401, "X-Slack-Request-Timestamp must be a Unix time in seconds")
        now = self.clock()
        if abs(now - int(timestamp)) > SLACK_WINDOW:
            raise Refused(401, "X-Slack-Request-Timestamp is more than five minutes away")
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self.secret, base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise Refused(401, "invalid X-Slack-Signature")
        self._forget(now)
        if expected in self._seen:
            return False
        self._seen[expected] = now + SLACK_WINDOW
        while len(self._seen) > self.remember:
            self._seen.popitem(last=False)
        return True

    def _forget(self, now: float) -> None:
        while self._seen:
            oldest = next(iter(self._seen.values()))
            if oldest > now:
                return
            self._seen.popitem(last=False)


def parse_slack_body(content_type: str, body: bytes) -> dict[str, Any]:
    """The body as Slack meant it, parsed once: an interaction's `payload` JSON, a slash
    command's form fields, or an Events API JSON object. Refused(400) for anything else
    (not UTF-8, not a form, JSON nested deeper than parsing can take, not an object).

    Parsed here rather than by bolt: bolt guesses a form is an interaction when the word
    "payload" appears anywhere in it, so `/incident note payload failed` was dropped."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    kind = content_type.partition(";")[0].strip().lower()
    if kind == "application/json":
        json_part, where = body, "body"
    elif kind == "application/x-www-form-urlencoded":
        try:
            form = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
        except ValueError:
            raise Refused(400, "body: not a valid form") from None
        if "payload" not in form:
            return dict(form)
        json_part, where = form["payload"].encode(), "payload"
    else:
        raise Refused(400, "Content-Type must be application/x-www-form-urlencoded or application/json")
    if json_too_deep(json_part):
        raise Refused(400, f"{where}: JSON nested deeper than {JSON_MAX_DEPTH} levels")
    try:
        parsed = json.loads(json_part) if json_part.strip() else {}
    except (ValueError, RecursionError):
        raise Refused(400, f"{where}: not valid JSON") from None
    if not isinstance(parsed, dict):
        raise Refused(400, f"{where}: expected a JSON object")
    return parsed
