"""Text every database column can take."""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\\x00\\ud800-\\udfff]")  # NUL and lone surrogates: PostgreSQL refuses both


def storable(text: str) -> str:
    """Text without the characters no database column takes (NUL, lone surrogates)."""
    return _UNSTORABLE.sub("", text) if _UNSTORABLE.search(text) else text


JSON_MAX_DEPTH = 64  # senders nest a few levels; hundreds is an attack on the parser


def json_too_deep(body: bytes, limit: int = JSON_MAX_DEPTH) -> bool:
    """Whether an array or object in this JSON nests deeper than `limit` (strings skipped):
    checked before parsing, which recurses. A cheap bound first: few brackets, no depth."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False
