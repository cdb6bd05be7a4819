"""How `warroom serve` runs uvicorn: with deadlines, so that nobody holds a connection open
by sending nothing, or its headers a byte at a time.

uvicorn drops a connection idle between requests (keep-alive timeout) but not one that never
finishes its request line and headers: the protocol below gives every request that long to
arrive in full. Bodies have their own deadline where they are read (bot/web/guard.py).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)
KEEP_ALIVE = 5  # seconds an idle connection is kept
MAX_CONNECTIONS = 2000  # and requests at once: beyond, uvicorn answers 503 at once


class DeadlineProtocol(HttpToolsProtocol):
    """HTTP/1.1 with a deadline on the request line and headers: from the connection's
    opening (or the end of its last response) to the end of its headers."""

    header_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_deadline is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def raise_file_limit() -> None:
    """As many open files as the system allows this process: each connection is one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 1 << 16), hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d: %s", soft, exc)


def run(app: Any, *, host: str, port: int, log_level: str, header_timeout: float) -> None:
    raise_file_limit()
    protocol = type("DeadlineProtocol", (DeadlineProtocol,), {"header_timeout": header_timeout})
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=protocol,
        timeout_keep_alive=KEEP_ALIVE,
        limit_concurrency=MAX_CONNECTIONS,
        h11_max_incomplete_event_size=16 * 1024,  # headers larger than this are refused
        server_header=False,
    )
