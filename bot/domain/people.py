"""People as documents name them: `Alice Smith (@alice)`, never `U0123ABCD`.

Slack ids are the key everywhere inside warroom; a name is only what a reader outside Slack
sees. Where no name is known yet (users.info has not answered, or the id is not a person),
the id itself is shown: a document never waits for Slack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")  # a Slack user id (W: an Enterprise Grid user)
MENTION = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>")  # <@U123> or <@U123|alice>


def is_user_id(value: str | None) -> bool:
    return bool(value) and USER_ID.fullmatch(value or "") is not None


@dataclass(frozen=True)
class Person:
    user_id: str
    handle: str | None = None  # Slack's `name`: @alice
    real_name: str | None = None
    deleted: bool = False

    @property
    def display(self) -> str:
        """`Alice Smith (@alice)`; `(@alice, deactivated)` once the account is deleted."""
        handle = f"@{self.handle}" if self.handle else self.user_id
        note = ", deactivated" if self.deleted else ""
        if self.real_name and self.real_name != self.handle:
            return f"{self.real_name} ({handle}{note})"
        return f"{handle} (deactivated)" if self.deleted else handle


def person_from_slack(user: Mapping[str, object]) -> Person:
    """A users.info (or user_change) `user` object: the profile's real name wins, then the
    top-level one; a display name is not a real name."""
    profile = user.get("profile")
    profile = profile if isinstance(profile, Mapping) else {}
    real = str(profile.get("real_name") or user.get("real_name") or "").strip() or None
    handle = str(user.get("name") or "").strip() or None
    return Person(str(user["id"]), handle, real, bool(user.get("deleted")))


class Names(Mapping[str, str]):
    """Slack id -> how a document names that person; an id nobody knows is its own name, and
    anything that is not a Slack id (`warroom`, `api:deploybot`) is shown as it is."""

    def __init__(self, people: Iterable[Person] = ()) -> None:
        self._names = {p.user_id: p.display for p in people}

    def __getitem__(self, user: str) -> str:
        return self._names.get(user, user)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def name(self, user: str | None) -> str:
        return self[user] if user else "warroom"


def mentioned(text: str) -> set[str]:
    """The user ids `<@U123>` mentions in a text."""
    return set(MENTION.findall(text)) if "<@" in text else set()
