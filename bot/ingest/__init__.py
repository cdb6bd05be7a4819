"""Webhook payloads -> normalized alerts. Parsers are pure: bytes in, `Alert`s out, or a
`PayloadError` that names the field at fault."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

MAX_BODY = 1024 * 1024  # 1 MiB


class PayloadError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def load_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError("(body)", f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PayloadError("(body)", "expected a JSON object")
    return data


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
    except ValueError:
        raise PayloadError(where, f"{value!r} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year <= 1:
        return None
    return parsed.astimezone(UTC)
