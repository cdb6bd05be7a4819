"""warroom's one clock. Everything that asks "what time is it?" (services, the job queue, the
worker) calls `utcnow()`, so a story can run on a simulated clock: `warroom demo` moves minutes
between its steps and its post-mortem shows real durations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

_SIMULATED: ContextVar[SimulatedClock | None] = ContextVar("simulated_clock", default=None)


def utcnow() -> datetime:
    clock = _SIMULATED.get()
    return clock.now if clock is not None else datetime.now(UTC)


class SimulatedClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, **delta: float) -> datetime:
        """Move on: `advance(minutes=3)`."""
        self.now += timedelta(**delta)
        return self.now


@contextlib.contextmanager
def simulated(start: datetime) -> Iterator[SimulatedClock]:
    """Within this block (and the tasks it starts), utcnow() is the simulated clock's."""
    clock = SimulatedClock(start)
    token = _SIMULATED.set(clock)
    try:
        yield clock
    finally:
        _SIMULATED.reset(token)
