"""When the scheduled MTTR report is due, in the configured zone (DST included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.schedule import next_report, period_before

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("after", "schedule", "due"),
    [
        (
            datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
            "daily",
            datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
        ),  # 09:00 CET
        (datetime(2026, 12, 1, 7, 0, tzinfo=UTC), "daily", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        (
            datetime(2026, 12, 1, 7, 0, tzinfo=UTC),
            "weekly",
            datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
        ),  # Monday
        (
            datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
            "weekly",
            datetime(2026, 12, 14, 8, 0, tzinfo=UTC),
        ),  # strictly after
        (datetime(2026, 12, 1, 7, 0, tzinfo=UTC), "monthly", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        (datetime(2026, 12, 15, 7, 0, tzinfo=UTC), "monthly", datetime(2027, 1, 1, 8, 0, tzinfo=UTC)),
        (datetime(2026, 3, 24, 12, 0, tzinfo=UTC), "weekly", datetime(2026, 3, 30, 7, 0, tzinfo=UTC)),  # CEST
    ],
)
def test_the_next_report_is_at_nine_local_time(after: datetime, schedule: str, due: datetime) -> None:
    assert next_report(after, schedule, BERLIN) == due


def test_each_report_looks_back_over_the_period_that_ended() -> None:
    assert period_before(datetime(2026, 12, 7, 8, tzinfo=UTC), "weekly", BERLIN) == timedelta(days=7)
    assert period_before(datetime(2026, 12, 2, 8, tzinfo=UTC), "daily", BERLIN) == timedelta(days=1)
    assert period_before(datetime(2027, 1, 1, 8, tzinfo=UTC), "monthly", BERLIN) == timedelta(days=31)
    assert period_before(datetime(2026, 3, 1, 8, tzinfo=UTC), "monthly", BERLIN) == timedelta(days=28)
