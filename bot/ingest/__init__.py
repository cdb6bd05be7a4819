"""Webhook payloads -> normalized alerts. Parsers are pure: bytes in, `Alert`s out, or a
`PayloadError` that names the field at fault."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.alerts import Alert
from bot.domain.text import JSON_MAX_DEPTH, json_too_deep, storable

MAX_BODY = 1024 * 1024  # 1 MiB
# What the database holds (bot/store/tables.py). A fingerprint also names its alert on the
# timeline as "source:fingerprint" (200 characters), so it stays well under that.
MAX_FINGERPRINT, MAX_GROUP_KEY, MAX_TITLE, MAX_SERVICE, MAX_SEVERITY = 160, 500, 500, 100, 50
OLDEST = timedelta(days=366)  # an alert that says it began earlier has a broken clock


class PayloadError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def load_json(body: bytes) -> dict[str, Any]:
    """A JSON object with every string made storable (no NUL, no lone surrogate)."""
    data = load_value(body)
    if not isinstance(data, dict):
        raise PayloadError("(body)", "expected a JSON object")
    return data


def load_value(body: bytes) -> Any:
    """Any JSON value, its strings made storable."""
    if json_too_deep(body):
        raise PayloadError("(body)", f"JSON nested deeper than {JSON_MAX_DEPTH} levels")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PayloadError("(body)", f"not valid JSON ({str(exc)[:100]})") from None
    return _clean(data)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def bounded_key(key: str, limit: int) -> str:
    """A key cut to `limit` characters, still unique: a long key keeps its head and gets a
    hash of the whole, so the same long key always maps to the same short one."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: limit - 17]}~{digest}"


def normalised(alert: Alert, now: datetime) -> Alert:
    """An alert every column can take: keys bounded, text cut, times in a sane range."""
    return dataclasses.replace(
        alert,
        fingerprint=bounded_key(alert.fingerprint, MAX_FINGERPRINT),
        group_key=bounded_key(alert.group_key, MAX_GROUP_KEY) if alert.group_key else alert.group_key,
        title=alert.title[:MAX_TITLE],
        service=alert.service[:MAX_SERVICE] if alert.service else alert.service,
        severity=alert.severity[:MAX_SEVERITY] if alert.severity else alert.severity,
        starts_at=clamp(alert.starts_at, now),
        ends_at=clamp(alert.ends_at, now) if alert.ends_at else None,
    )


def clamp(at: datetime, now: datetime) -> datetime:
    """A time from the outside world, kept between a year ago and now: a sender's clock that
    runs ahead, or an alert 'started' in year 2, must not bend every report."""
    return min(max(at, now - OLDEST), now)


def field(
    data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, *, required: bool = True
) -> Any:
    value = data.get(key)
    if value is None:
        if required:
            raise PayloadError(f"{where}{key}", "is required")
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise PayloadError(f"{where}{key}", f"expected {expected}, got {type(value).__name__}")
    return value


def string_map(data: dict[str, Any], key: str, where: str) -> dict[str, str]:
    value = field(data, key, dict, where, required=False) or {}
    return {str(k): str(v) for k, v in value.items()}


def timestamp(value: Any, where: str) -> datetime | None:
    """RFC 3339 as Go and JavaScript write it; Go's zero time means 'not set'."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(where, "expected an RFC 3339 timestamp string")
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # Go writes nanoseconds; Python reads at most microseconds
        head, _, rest = text.partition(".")
        zone_at = next((i for i, c in enumerate(rest) if not c.isdigit()), len(rest))
        digits, zone = rest[:zone_at], rest[zone_at:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        if parsed.year <= 1:
            return None
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # year 9999 with a negative offset overflows
        raise PayloadError(where, f"{value[:40]!r} is not an RFC 3339 timestamp in range") from None
