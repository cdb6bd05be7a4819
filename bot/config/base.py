"""What every part of the configuration uses: its error, and durations like 30m."""

from __future__ import annotations

import re
from datetime import timedelta


class ConfigError(Exception):
    """A configuration problem, worded for the operator: file, key and what is wrong."""


def parse_duration(value: str | int | float) -> timedelta:
    """`90s`, `30m`, `4h`, `2d` (or a number of seconds)."""
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = re.fullmatch(r"\s*(\d{1,9})\s*([smhd])\s*", str(value))
    if not match:
        raise ValueError(f"{str(value)[:40]!r} is not a duration like 90s, 30m, 4h or 2d")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(seconds=amount * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])
