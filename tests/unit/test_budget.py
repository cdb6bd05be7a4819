"""The Slack budget's arithmetic (bot/domain/budget.py) and the in-process budget built on it:
a whole window at once, never more than the limit in any sliding window, a line by priority."""

from __future__ import annotations

import pytest

from bot import worker
from bot.domain.budget import INTERACTIVE, UNRANKED, URGENT, allowance, family, free_at, recent, window
from bot.slack.ratelimit import LocalCalls, SlackBudget, budget_of

PERIOD = 60.0
WINDOW = window(PERIOD)


def test_a_call_counts_a_little_longer_than_slacks_window() -> None:
    assert window(60.0) == pytest.approx(61.2)  # 2%
    assert window(6.0) == pytest.approx(6.5)  # at least half a second
    assert window(0.1) == pytest.approx(0.11)  # at most a tenth of a shortened period


def test_an_unspent_window_is_spent_at_once() -> None:
    calls: list[float] = []
    for _ in range(20):
        assert free_at(calls, limit=20, period=PERIOD, now=5.0) == 5.0
        calls.append(5.0)
    # The twenty-first waits until the first of them leaves the window, not a moment less.
    assert free_at(calls, limit=20, period=PERIOD, now=5.0) == pytest.approx(5.0 + WINDOW)


def test_the_window_slides_call_by_call() -> None:
    calls = [float(t) for t in range(20)]  # one a second
    assert free_at(calls, limit=20, period=PERIOD, now=30.0) == pytest.approx(0.0 + WINDOW)
    assert free_at(calls, limit=20, period=PERIOD, now=WINDOW + 0.5) == WINDOW + 0.5
    # Those still counting at a time, and at most `keep` of them.
    assert recent(calls, period=PERIOD, now=WINDOW + 2.5, keep=20) == [float(t) for t in range(3, 20)]
    assert recent(calls, period=PERIOD, now=20.0, keep=5) == [15.0, 16.0, 17.0, 18.0, 19.0]


def test_those_ahead_in_line_take_the_next_free_times() -> None:
    calls = [float(t) for t in range(20)]
    # Three wait before this one: the calls at 0, 1 and 2 s make room for them, 3 s for it.
    assert free_at(calls, limit=20, period=PERIOD, now=30.0, ahead=3) == pytest.approx(3.0 + WINDOW)
    # With room in the window, those ahead take it first.
    assert free_at(calls[:18], limit=20, period=PERIOD, now=30.0, ahead=1) == 30.0
    assert free_at(calls[:18], limit=20, period=PERIOD, now=30.0, ahead=2) == pytest.approx(WINDOW)


def test_only_the_most_urgent_may_spend_a_windows_last_tenth() -> None:
    assert allowance(20, URGENT) == allowance(20, INTERACTIVE) == 20
    assert allowance(20, 2) == allowance(20, UNRANKED) == 18
    assert allowance(1, 4) == 1  # Tier 1: a tenth of one call is nothing to keep
    assert allowance(60, 3) == 54


def test_each_method_and_each_channels_messages_have_their_own_budget() -> None:
    assert budget_of("conversations.create", None) == ("slack:conversations.create", 20)
    assert budget_of("pins.add", "C1") == ("slack:pins.add", 20)
    assert budget_of("chat.postMessage", "C1") == ("slack:chat.postMessage:C1", 60)
    assert budget_of("chat.postMessage", "C2")[0] != budget_of("chat.postMessage", "C1")[0]
    assert budget_of("some.newMethod", None) == ("slack:some.newMethod", 50)  # Tier 3 unless known


def test_what_a_job_waits_for_is_named_by_method_not_by_channel() -> None:
    assert family("slack:conversations.create") == "slack:conversations.create"
    assert family("slack:chat.postMessage:C0123") == "slack:chat.postMessage"
    assert family("the channel of #12") == "incident channel"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_local_budget_never_lets_more_than_the_limit_into_any_window() -> None:
    clock = Clock()
    calls = LocalCalls(period=PERIOD, clock=clock)
    granted: list[float] = []
    for _ in range(200):  # a call every 0.7 s for 140 s
        if (await calls.take("slack:pins.add", limit=20, keep=20, ticket=None)).wait == 0:
            granted.append(clock.now)
        clock.now += 0.7
    assert len(granted) > 40
    assert granted[:20] == pytest.approx([1000.0 + 0.7 * i for i in range(20)])  # the burst, unspaced
    for i in range(len(granted) - 20):
        assert granted[i + 20] - granted[i] >= PERIOD  # any 21 calls span more than a minute


async def test_a_call_counts_from_its_answer_once_settled() -> None:
    clock = Clock()
    calls = LocalCalls(period=PERIOD, clock=clock)
    key = "slack:pins.add"
    slow = await calls.take(key, limit=20, keep=20, ticket=None)
    for _ in range(19):
        assert (await calls.take(key, limit=20, keep=20, ticket=None)).wait == 0
    clock.now += 3.0
    await calls.settle(key, slow.at)  # answered three seconds on: Slack counted it meanwhile
    clock.now = slow.at + WINDOW
    for _ in range(19):  # the nineteen answered at once have left the window
        assert (await calls.take(key, limit=20, keep=20, ticket=None)).wait == 0
    assert (await calls.take(key, limit=20, keep=20, ticket=None)).wait == pytest.approx(3.0)


class Line:
    """Jobs in line for a budget, as the job table would answer."""

    def __init__(self, waiting: dict[int, int]) -> None:
        self.waiting = waiting  # job id -> priority
        self.served_jobs: list[int] = []

    async def ahead(self, key: str, *, job: int, priority: int) -> int:
        return sum(1 for j, p in self.waiting.items() if j != job and (p, j) < (priority, job))

    async def served(self, key: str, *, job: int) -> None:
        self.waiting.pop(job, None)
        self.served_jobs.append(job)


async def test_a_job_waits_behind_the_more_urgent_and_the_older_and_leaves_the_line_served() -> None:
    clock = Clock()
    line = Line({7: 4, 9: 4, 12: 1})
    calls = LocalCalls(period=PERIOD, line=line, clock=clock)
    key = "slack:conversations.create"
    for _ in range(19):
        assert (await calls.take(key, limit=20, keep=20, ticket=None)).wait == 0
    # One call left in the window: the SEV1 (job 12) is first in line, so job 9 (a SEV4)
    # must wait, behind it and job 7, for two calls to leave the window.
    late = await calls.take(key, limit=20, keep=20, ticket=worker.Ticket(9, 4, key))
    assert late.wait == pytest.approx(WINDOW)
    assert (await calls.take(key, limit=20, keep=20, ticket=worker.Ticket(12, 1, key))).wait == 0
    assert line.served_jobs == [12]
    # A minute on, the window has room for those in line and for a job that never waited
    # (it has no place in the line to leave).
    clock.now += WINDOW
    assert (await calls.take(key, limit=20, keep=20, ticket=worker.Ticket(30, 4, None))).wait == 0
    assert (await calls.take(key, limit=20, keep=20, ticket=worker.Ticket(9, 4, key))).wait == 0
    assert line.served_jobs == [12, 9]


async def test_the_budget_waits_a_moment_in_place_and_postpones_a_job_beyond() -> None:
    clock = Clock()
    budget = SlackBudget(LocalCalls(period=PERIOD, clock=clock), period=PERIOD)
    for _ in range(20):
        async with budget.spending("conversations.create"):
            pass
    token = worker.ticket.set(worker.Ticket(5, 3))
    try:
        with pytest.raises(worker.Postpone) as postponed:
            async with budget.spending("conversations.create"):
                pass
    finally:
        worker.ticket.reset(token)
    assert postponed.value.waiting_for == "slack:conversations.create"
    assert postponed.value.delay == pytest.approx(WINDOW)
    # A share of the limits (an override: replicas on PostgreSQL share one budget anyway).
    halved = SlackBudget(LocalCalls(period=PERIOD, clock=clock), period=PERIOD, share=0.5)
    for _ in range(10):
        async with halved.spending("pins.add"):
            pass
    with pytest.raises(worker.Postpone):
        async with halved.spending("pins.add"):
            pass
