"""The trackers follow-ups go to, behind one small port: make a ticket, find the one an
earlier attempt made (each adapter marks its tickets with the follow-up's id), read its
state, close or reopen it. Adapters: bot/integrations/github.py, jira.py and linear.py.

A tracker's failures say how the worker should retry (`tracker_failure`): the tracker down or
busy, keep trying (a rate limit waits as long as it says); bad credentials or a request it
refuses, fail for good at once, with a note on the incident's timeline, never a retry loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from bot import worker


@dataclass(frozen=True)
class Ticket:
    key: str  # `acme/ops#12`
    url: str
    open: bool


@dataclass(frozen=True)
class TicketDraft:
    followup: int  # each adapter marks its ticket with it: how a retry finds what it made
    title: str
    body: str  # Markdown: what it is, and the links back to the incident
    labels: list[str]


class Tracker(Protocol):
    name: str

    async def create(self, draft: TicketDraft) -> Ticket: ...

    async def find(self, followup: int) -> Ticket | None: ...

    async def get(self, key: str) -> Ticket: ...

    async def set_open(self, key: str, is_open: bool, *, done: bool = True) -> Ticket: ...


class TrackerError(Exception):
    """The tracker answered with an error: its status, its message, and how long it asked us to
    wait (a rate limit), if it did."""

    def __init__(self, tracker: str, status: int, message: str, *, wait: float | None = None) -> None:
        super().__init__(f"{tracker} answered {status}: {message}")
        self.status = status
        self.wait = wait

    @property
    def permanent(self) -> bool:
        """Bad credentials, no permission, no such repository, a refused request."""
        return self.wait is None and self.status < 500 and self.status != 408


def tracker_failure(exc: BaseException) -> worker.Retry | None:
    """How the worker retries a failed tracker job."""
    if isinstance(exc, TrackerError):
        if exc.wait is not None:
            return worker.Retry(after=exc.wait, limit=None)
        return worker.Retry(limit=1) if exc.permanent else worker.TRANSIENT
    if isinstance(exc, httpx.TransportError):
        return worker.TRANSIENT
    return None
