"""The job that carries out a runbook step's action (JobKind.RUNBOOK_ACTION).

An `http` action is sent with the run's Idempotency-Key, the same on every attempt: a retry
after a 503, a timeout or a SIGKILL asks the target for the same thing again, and a target
that honours the key does it once. Retries: connection errors, 429 (as long as Retry-After
says, up to two minutes) and 5xx, four attempts in all; anything else ends the run. Secrets
are filled in here, in memory, and taken out of everything that is kept or shown.

A built-in calls the same service as its command, with the run's own timeline key: a retry
after a crash finds the change it made and does not make it twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot import worker
from bot.domain.actions import (
    MAX_ATTEMPTS,
    MAX_RETRY_WAIT,
    ActionKind,
    MissingSecret,
    Outcome,
    Prepared,
    RunState,
    Verdict,
    fill,
    redact,
    retry_after,
    status_text,
    verdict,
)
from bot.domain.followups import DEFAULT_PRIORITY, FollowUpRequest
from bot.domain.incident import DomainError, Status
from bot.domain.status import UpdateDraft
from bot.integrations.guarded_http import GuardedClient, Refused, Unreachable
from bot.jobs import Handler, JobKind
from bot.services.actions import builtin_key
from bot.services.bundle import Services
from bot.store.tables import ActionRun

log = logging.getLogger(__name__)


class RetryAction(Exception):
    """This attempt failed in a way worth trying again, after `after` seconds."""

    def __init__(self, summary: str, after: float) -> None:
        super().__init__(summary)
        self.after = after


def took(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def action_failure(exc: BaseException) -> worker.Retry | None:
    """How the worker retries an action job: when the handler says (it counts the attempts)."""
    return worker.Retry(after=exc.after, limit=None) if isinstance(exc, RetryAction) else None


class ActionJobs:
    def __init__(
        self, services: Services, client: GuardedClient, environ: Mapping[str, str], *, lease_seconds: float
    ) -> None:
        self.s = services
        self.client = client
        self.environ = environ  # where ${NAME} is read, when the action runs
        self.longest = max(5.0, lease_seconds * 0.8)  # a run must end before its lease does

    def handlers(self) -> dict[str, Handler]:
        return {JobKind.RUNBOOK_ACTION: self.run}

    async def run(self, payload: dict[str, Any]) -> None:
        action = await self.s.actions.get(payload["action"])
        if action.state != RunState.RUNNING or action.id is None:
            return  # it ended on an earlier attempt
        attempt = worker.attempt.get()
        if action.kind == ActionKind.HTTP:
            outcome = await self._http(action, attempt)
        else:
            outcome = await self._builtin(action, attempt)
        await self.s.actions.finish(action.id, outcome, attempt)

    async def _http(self, action: ActionRun, attempt: int) -> Outcome:
        prepared = Prepared.from_dict(action.request)
        try:
            request = fill(prepared, self.environ, action.idempotency_key)
        except MissingSecret as exc:
            return Outcome(False, str(exc))
        secrets = request.secrets
        try:
            answer = await self.client.send(request, min(prepared.timeout, self.longest))
        except Refused as exc:
            return Outcome(False, "refused: " + redact(str(exc), secrets))
        except Unreachable as exc:
            return await self._again(action, attempt, redact(str(exc), secrets), None)
        summary = f"{status_text(answer.status)} in {took(answer.seconds)}"
        if answer.cut:
            summary += f"; the answer was longer than {self.client.limit // 1024} KiB and was cut"
        if answer.redirect:
            summary += f"; the redirect to {answer.redirect} (another host) was not followed"
        excerpt = Outcome.excerpt(answer.text, secrets)
        found = verdict(answer.status, prepared.expect)
        if found is Verdict.OK:
            return Outcome(True, summary, answer.status, answer.seconds, excerpt)
        if found is Verdict.RETRY and not answer.redirect:
            wait = retry_after(answer.retry_after, datetime.now(UTC))
            return await self._again(action, attempt, summary, wait, answer.status, excerpt)
        expected = ", ".join(map(str, prepared.expect)) or "2xx"
        return Outcome(False, f"{summary} (expected {expected})", answer.status, answer.seconds, excerpt)

    async def _again(
        self,
        action: ActionRun,
        attempt: int,
        summary: str,
        wait: float | None,
        status: int | None = None,
        excerpt: str = "",
    ) -> Outcome:
        """Retry this attempt's failure (raises), or end the run with it."""
        assert action.id is not None
        if attempt >= MAX_ATTEMPTS:
            return Outcome(False, f"{summary} (after {attempt} attempts)", status, None, excerpt)
        if wait is not None and wait > MAX_RETRY_WAIT:
            return Outcome(False, f"{summary}; asked to wait {wait:.0f} s, longer than warroom waits", status)
        delay = wait if wait is not None else float(2 ** (attempt - 1))
        note = f"attempt {attempt} of {MAX_ATTEMPTS}: {summary}; trying again in {delay:.0f} s"
        await self.s.actions.attempt_failed(action.id, note, attempt)
        raise RetryAction(note, delay)

    async def _builtin(self, action: ActionRun, attempt: int) -> Outcome:
        assert action.id is not None
        if attempt > 1 and await self.s.actions.happened(action.id):
            return Outcome(True, "done")  # the change was made by an attempt that died after it
        began = time.monotonic()
        request, number, actor = action.request, action.incident_number, action.requested_by
        key = builtin_key(action.id)
        text = str(request["text"])
        try:
            match ActionKind(action.kind):
                case ActionKind.STATUS:
                    await self.s.incidents.change_status(number, Status(text), actor, key=key)
                case ActionKind.PAGE:
                    await self.s.paging.page_service(number, text, actor, key=key)
                case ActionKind.FOLLOWUP:
                    wanted = FollowUpRequest(
                        text, owner=request.get("owner"), priority=request.get("priority") or DEFAULT_PRIORITY
                    )
                    await self.s.followups.add(number, wanted, actor, key=key)
                case ActionKind.UPDATE:
                    await self.s.updates.post(number, UpdateDraft(text), actor, key=key)
                case ActionKind.NOTE:
                    await self.s.incidents.add_note(number, text, actor, key=key)
        except DomainError as exc:
            return Outcome(False, str(exc))
        return Outcome(True, f"done in {took(time.monotonic() - began)}")
