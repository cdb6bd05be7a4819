"""Who may do what (warroom.yaml `access`). Everyone may declare unless `declarers` names a
Slack user group; once `responders` or `admins` is set, only the incident's commander, the
responders and the admins may resolve, close or change the severity. warroom itself (alerts,
the command line) is never refused: only Slack user ids are checked."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.config import AccessConfig, ThrottleConfig
from bot.domain.incident import DomainError
from bot.domain.people import is_user_id
from bot.domain.throttle import Throttle

log = logging.getLogger(__name__)
Members = Callable[[str], Awaitable[set[str]]]  # a user group's members


class Refused(DomainError):
    pass


class Access:
    def __init__(
        self,
        config: AccessConfig,
        members: Members,
        *,
        ttl: float = 300.0,
        limits: ThrottleConfig | None = None,
    ) -> None:
        self.config = config
        self.members = members
        limits = limits or ThrottleConfig()
        self.declares = Throttle(limits.declares_per_user, limits.declare_window.total_seconds())
        self.declare_limit = f"{limits.declares_per_user} incidents in {_duration(limits.declare_window)}"
        self.ttl = ttl  # user groups change rarely; usergroups.users.list is Tier 2
        self._cache: dict[str, tuple[float, set[str]]] = {}

    async def check_declare(self, actor: str) -> None:
        """Members of `declarers` (or everyone) may declare, a few at a time: one person (or
        API token) opening hundreds of incidents would bury the next real one."""
        person = is_user_id(actor)
        if (person or actor.startswith("api:")) and (wait := self.declares.take(actor)):
            raise Refused(
                f"You have declared {self.declare_limit}, the most one person may: "
                f"try again in {math.ceil(wait)} s, or ask an admin to raise `limits.declares_per_user`."
            )
        group = self.config.declarers
        if group is None or not person or actor in self.config.admins:
            return
        if actor not in await self._members(group):
            raise Refused(f"Only members of {_group(group)} or an admin may declare incidents here.")

    async def check_change(self, actor: str, commander: str | None, what: str, number: int) -> None:
        """`what`: "resolve", "close" or "change the severity of"."""
        if not self.config.restricted or not is_user_id(actor):
            return
        if actor == commander or actor in self.config.admins:
            return
        group = self.config.responders
        if group is not None and actor in await self._members(group):
            return
        listed = self._who_may(f"its commander (<@{commander}>)" if commander else "its commander")
        raise Refused(f"You may not {what} #{number}: only {listed} may.")

    async def check_run(self, actor: str, holders: dict[str, str], number: int) -> None:
        """Who may run a runbook step's action: once `responders` or `admins` is set, the
        incident's role holders, the responders and the admins."""
        if not self.config.restricted or not is_user_id(actor):
            return
        if actor in holders.values() or actor in self.config.admins:
            return
        group = self.config.responders
        if group is not None and actor in await self._members(group):
            return
        names = ", ".join(f"<@{user}>" for user in dict.fromkeys(holders.values()))
        listed = self._who_may(f"its role holders ({names})" if names else "its role holders")
        raise Refused(f"You may not run runbook actions in #{number}: only {listed} may.")

    async def check_update(self, actor: str, holders: dict[str, str], number: int) -> None:
        """Who may send updates beyond the channel: once `responders` or `admins` is set, the
        commander, the comms role, the responders and the admins."""
        if not self.config.restricted or not is_user_id(actor):
            return
        if actor in (holders.get("commander"), holders.get("comms")) or actor in self.config.admins:
            return
        group = self.config.responders
        if group is not None and actor in await self._members(group):
            return
        listed = self._who_may("its commander and comms")
        raise Refused(f"You may not send stakeholder updates for #{number}: only {listed} may.")

    def _who_may(self, first: str) -> str:
        """`first`, the responders and the admins, as a sentence says them."""
        who = [first]
        if self.config.responders:
            who.append(f"members of {_group(self.config.responders)}")
        if self.config.admins:
            who.append("an admin")
        return ", ".join(who[:-1]) + f" or {who[-1]}" if len(who) > 1 else who[0]

    async def _members(self, group: str) -> set[str]:
        cached = self._cache.get(group)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        try:
            members = await self.members(group)
        except Exception as exc:  # Slack unreachable: the last known members, else nobody
            log.warning("could not read user group %s: %s", group, exc)
            return cached[1] if cached else set()
        self._cache[group] = (time.monotonic(), members)
        return members


def _duration(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _group(group: str) -> str:
    return f"<!subteam^{group}>"
