"""Text every database column can take."""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\\x00\\ud800-\\udfff]")  # NUL and lone surrogates: PostgreSQL refuses both


def storable(text: str) -> str:
    """Text without the characters no database column takes (NUL, lone surrogates)."""
    return _UNSTORABLE.sub("", text) if _UNSTORABLE.search(text) else text
