"""The job worker: claims due jobs, runs their handlers, retries or gives up.

It knows nothing of Slack: handlers and the retry policy are injected by the composition root.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import observability
from bot.jobs import Handler
from bot.store import jobs
from bot.store.db import Database
from bot.store.tables import utcnow
from bot.store.work_tables import Job

log = logging.getLogger(__name__)
# The attempt the running job is on (1 the first time): a handler that finds it above 1 may
# look for what an earlier attempt did before its process died.
attempt: ContextVar[int] = ContextVar("attempt", default=1)


@dataclass(frozen=True)
class Ticket:
    """The running job, as a rate budget sees it: its place in line (bot/slack/ratelimit.py)."""

    job: int
    priority: int
    waiting_for: str | None = None  # the budget it was given a reserved time for, if any


# The job this task runs, or None outside the worker (a readiness probe).
ticket: ContextVar[Ticket | None] = ContextVar("ticket", default=None)


class Postpone(Exception):
    """Raised by a handler whose job must wait its turn (a rate budget, a channel still being
    made): the job runs again after `delay` seconds, its attempt not counted, and nothing is
    logged above debug: waiting is not failing."""

    def __init__(self, delay: float, waiting_for: str) -> None:
        super().__init__(f"waiting for {waiting_for}, {delay:.1f}s")
        self.delay = delay
        self.waiting_for = waiting_for


# Seconds to wait before the next attempt, or None to give up.
RetryPolicy = Callable[[BaseException, int], float | None]
GiveUpHook = Callable[[Job, str], Awaitable[None]]
MAX_TRANSIENT_ATTEMPTS = 50  # with the 5-minute cap: keeps trying through a ~4 hour outage
MAX_OTHER_ATTEMPTS = 3


def default_retry_policy(exc: BaseException, attempts: int) -> float | None:
    return None if attempts >= 5 else min(2.0**attempts, 300.0)


@dataclass(frozen=True)
class Retry:
    """What a classifier says of a failure: wait `after` seconds (None: back off, doubling),
    and give up once `limit` attempts were made (None: never)."""

    after: float | None = None
    limit: int | None = MAX_TRANSIENT_ATTEMPTS


TRANSIENT = Retry()  # the other side is down or busy: keep trying for hours
OTHER = Retry(limit=MAX_OTHER_ATTEMPTS)  # probably our request: a few more tries
# Knows a failure (an adapter's errors), or None to let the next classifier decide.
Classifier = Callable[[BaseException], Retry | None]


def network_failure(exc: BaseException) -> Retry | None:
    return TRANSIENT if isinstance(exc, TimeoutError | OSError) else None


def composed(*classifiers: Classifier) -> RetryPolicy:
    """The retry policy of classifiers given by the adapters (Slack, PagerDuty), asked in
    order; a failure none of them knows is a network failure or, else, OTHER."""

    def policy(exc: BaseException, attempts: int) -> float | None:
        verdict = next((v for c in (*classifiers, network_failure) if (v := c(exc)) is not None), OTHER)
        if verdict.limit is not None and attempts >= verdict.limit:
            return None
        return verdict.after if verdict.after is not None else backoff(attempts)

    return policy


def backoff(attempts: int) -> float:
    return min(2.0 ** (attempts - 1), 300.0) * random.uniform(0.8, 1.2)


class Worker:
    def __init__(
        self,
        db: Database,
        handlers: dict[str, Handler],
        *,
        retry_policy: RetryPolicy = default_retry_policy,
        on_give_up: GiveUpHook | None = None,
        concurrency: int = 16,
        lease: timedelta = timedelta(seconds=60),
        poll_interval: float = 1.0,
        shutdown_grace: float = 5.0,
        yield_to: Callable[[], bool] = lambda: False,
        on_outcome: Callable[[str, str], None] = lambda kind, outcome: None,
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.retry_policy = retry_policy
        self.on_give_up = on_give_up
        self.concurrency = concurrency
        self.lease = lease
        self.poll_interval = poll_interval
        self.shutdown_grace = shutdown_grace
        # While this says so (Slack requests waiting for their ack), run one job at a time:
        # an ack has a 3-second deadline, a projection does not.
        self.yield_to = yield_to
        self.on_outcome = on_outcome  # (kind, "done" | "retried" | "failed"): for the metrics
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self.stats = {"run": 0, "retried": 0, "failed": 0, "waited": 0}
        self._put_off_until: list[float] = []  # a heap: the loop times the jobs it put off fall due

    def notify(self) -> None:
        """New jobs were committed: look now instead of at the next poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        try:
            while True:
                self._wake.clear()
                limit = 1 if self.yield_to() else self.concurrency
                free = limit - len(self._running)
                if free > 0:
                    try:
                        claimed = await jobs.claim(self.db, limit=free, lease=self.lease)
                    except Exception:
                        log.exception("claiming jobs failed; trying again shortly")
                        claimed = []
                    for job in claimed:
                        task = asyncio.create_task(self._execute(job))
                        self._running.add(task)
                        task.add_done_callback(self._finished)
                    if claimed:
                        continue
                # asyncio.timeout, not wait_for: in Python 3.11 wait_for swallows a cancellation
                # that arrives as the wait ends, and a worker woken during shutdown ran on.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._next_look()):
                        await self._wake.wait()
        finally:
            # Let jobs in flight finish (a cancelled one would only run again after its lease).
            if self._running:
                await asyncio.wait(set(self._running), timeout=self.shutdown_grace)
            for task in self._running:
                task.cancel()

    def _next_look(self) -> float:
        """Seconds until the next poll, or sooner, when a job this worker put off falls due."""
        now, due = asyncio.get_running_loop().time(), self._put_off_until
        if due and due[0] <= now:
            while due and due[0] <= now:
                heapq.heappop(due)
            return 0.0
        return min(self.poll_interval, due[0] - now) if due else self.poll_interval

    def _put_off(self, delay: float) -> datetime:
        """When a job put off for `delay` seconds runs again; this worker looks then."""
        if delay < self.poll_interval * 60:  # (one due in hours is for the polls to find)
            heapq.heappush(self._put_off_until, asyncio.get_running_loop().time() + delay + 0.005)
        return utcnow() + timedelta(seconds=delay)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()

    async def run_until_idle(self, *, horizon: timedelta = timedelta(0), max_rounds: int = 1000) -> int:
        """Run every job due within `horizon` (and those they enqueue); return how many ran.

        Tests and the demo use this instead of the background loop, so they are deterministic.
        """
        ran = 0
        for _ in range(max_rounds):
            claimed = await jobs.claim(
                self.db, limit=self.concurrency, lease=self.lease, now=utcnow() + horizon
            )
            if not claimed:
                return ran
            await asyncio.gather(*(self._execute(job) for job in claimed))
            ran += len(claimed)
        raise RuntimeError(f"jobs still pending after {max_rounds} rounds")

    async def _execute(self, job: Job) -> None:
        assert job.id is not None
        # Runs in a task of its own: these say what its log lines are about.
        observability.request_id.set(f"job-{job.id}")
        attempt.set(job.attempts)
        ticket.set(Ticket(job.id, job.priority, job.waiting_for))
        number = job.payload.get("incident")
        observability.incident.set(number if isinstance(number, int) else None)
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            await handler(job.payload)
        except asyncio.CancelledError:
            raise
        except Postpone as wait:
            self.stats["waited"] += 1
            log.debug("job %s (%s) %s", job.id, job.kind, wait)
            await jobs.wait(self.db, job.id, self._put_off(wait.delay), wait.waiting_for)
            self.on_outcome(job.kind, "waited")
        except Exception as exc:
            await self._handle_failure(job, exc)
        else:
            self.stats["run"] += 1
            await jobs.complete(self.db, job.id)
            self.on_outcome(job.kind, "done")

    async def _handle_failure(self, job: Job, exc: Exception) -> None:
        assert job.id is not None
        error = f"{type(exc).__name__}: {exc}"
        delay = self.retry_policy(exc, job.attempts)
        if delay is None:
            self.stats["failed"] += 1
            log.error(
                "job %s (%s) failed for good after %d attempts: %s", job.id, job.kind, job.attempts, error
            )
            await jobs.give_up(self.db, job.id, error)
            self.on_outcome(job.kind, "failed")
            if self.on_give_up is not None:
                await self.on_give_up(job, error)
            return
        self.stats["retried"] += 1
        log.warning(
            "job %s (%s) attempt %d failed, retrying in %.1fs: %s",
            job.id,
            job.kind,
            job.attempts,
            delay,
            error,
        )
        await jobs.retry_later(self.db, job.id, error, self._put_off(delay))
        self.on_outcome(job.kind, "retried")
