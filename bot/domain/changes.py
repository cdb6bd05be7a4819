"""Changes: what changed before an incident, and whether a service may change now.

A change (a deploy, a config push, a flag flip, a migration) arrives as events: `started`,
then `succeeded`, `failed` or `rolled_back`, each stored once. `fold` makes changes of them;
`before` and `lead` relate them to an incident's start; `freeze` says whether a service is
frozen. Pure: no I/O, no ORM, no Slack.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum


class ChangeKind(StrEnum):
    DEPLOY = "deploy"
    CONFIG = "config"
    FLAG = "flag"
    MIGRATION = "migration"
    INFRA = "infra"
    OTHER = "other"


class ChangeStatus(StrEnum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"

    @property
    def words(self) -> str:
        return {"started": "started", "succeeded": "finished", "failed": "failed"}.get(self, "rolled back")


CHANGE_KINDS = tuple(k.value for k in ChangeKind)
CHANGE_STATUSES = tuple(s.value for s in ChangeStatus)
# Which event of a change says how it ended: a later stage wins over an earlier one.
_STAGE: dict[str, int] = {
    ChangeStatus.STARTED.value: 0,
    ChangeStatus.SUCCEEDED.value: 1,
    ChangeStatus.FAILED.value: 1,
    ChangeStatus.ROLLED_BACK.value: 2,
}


@dataclass(frozen=True)
class Change:
    """One change, as its latest event tells it."""

    id: str  # the sender's id: "deploy-8812"
    service: str
    environment: str
    kind: str
    status: str
    summary: str
    started_at: datetime
    finished_at: datetime | None = None
    version: str | None = None
    previous_version: str | None = None  # the version it replaced (a rollback's target)
    author: str | None = None
    url: str | None = None
    source: str = "webhook"  # webhook | github | cli
    freeze: str | None = None  # why the service was frozen when it arrived

    @property
    def at(self) -> datetime:
        """When it took effect: finished, or started while it runs."""
        return self.finished_at or self.started_at

    @property
    def is_deploy(self) -> bool:
        return self.kind == ChangeKind.DEPLOY

    def label(self) -> str:
        """`deploy checkout v2.14.0`, or the kind and the summary when there is no version."""
        if self.version and self.version in self.summary:
            return f"{self.kind} {self.summary}"
        what = f"{self.service} {self.version}" if self.version else self.summary
        return f"{self.kind} {what}"

    def as_dict(self) -> dict[str, object]:
        """What runbook templates and the API see."""
        return {
            "id": self.id,
            "service": self.service,
            "environment": self.environment,
            "kind": self.kind,
            "status": self.status,
            "summary": self.summary,
            "version": self.version,
            "previous_version": self.previous_version,
            "author": self.author,
            "url": self.url,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


class TemplateChanges(list[dict[str, object]]):
    """`{{ changes }}` in a runbook step: each change as a mapping (`{% for c in changes %}`),
    and, printed whole, their labels."""

    def __str__(self) -> str:
        return ", ".join(str(c["label"]) for c in self) or "no recent changes"


def template_values(suspects: Sequence[Change]) -> dict[str, object]:
    """`changes` (the suspects, newest first) and `last_change` (the newest; empty when none,
    so `{{ last_change.version }}` shows as <version>)."""
    listed = TemplateChanges({**c.as_dict(), "label": c.label()} for c in suspects)
    return {"changes": listed, "last_change": listed[0] if listed else {}}


def fold(events: Iterable[Change]) -> list[Change]:
    """The changes the events tell, oldest event first in; newest change first out. A later
    stage of a change updates its status and end; what an event leaves out, an earlier one
    may have said (a `succeeded` event without the version the `started` one gave)."""
    found: dict[str, Change] = {}
    for event in events:
        seen = found.get(event.id)
        if seen is None:
            found[event.id] = event
            continue
        newer, older = (event, seen) if _STAGE[event.status] >= _STAGE[seen.status] else (seen, event)
        merged = {
            "started_at": min(seen.started_at, event.started_at),
            "finished_at": newer.finished_at or older.finished_at,
            "version": newer.version or older.version,
            "previous_version": newer.previous_version or older.previous_version,
            "author": newer.author or older.author,
            "url": newer.url or older.url,
            "freeze": seen.freeze or event.freeze,
        }
        # Most events repeat what the earlier one said: keep the newer as it is (no copy).
        same = all(getattr(newer, name) == value for name, value in merged.items())
        found[event.id] = newer if same else replace(newer, **merged)  # type: ignore[arg-type]
    return sorted(found.values(), key=lambda c: (c.at, c.id), reverse=True)


def before(changes: Iterable[Change], start: datetime, lookback: timedelta) -> list[Change]:
    """The changes that took effect in the `lookback` before `start` (or were still running
    at it), newest first: the suspects."""
    return [c for c in changes if start - lookback <= c.at <= start or c.started_at <= start < c.at]


def during(changes: Iterable[Change], start: datetime, end: datetime | None) -> list[Change]:
    """The changes that started while the incident was open (`end` None: still open)."""
    return [c for c in changes if c.started_at > start and (end is None or c.started_at <= end)]


def lead(changes: Iterable[Change], start: datetime, lookback: timedelta) -> tuple[Change, timedelta] | None:
    """The newest change that finished in the `lookback` before `start`, and how long before."""
    finished = [
        c
        for c in changes
        if c.finished_at and c.status != ChangeStatus.STARTED and start - lookback <= c.finished_at <= start
    ]
    if not finished:
        return None
    newest = max(finished, key=lambda c: c.finished_at or c.started_at)
    return newest, start - (newest.finished_at or newest.started_at)


def since_last(changes: Iterable[Change], start: datetime) -> timedelta | None:
    """How long before `start` the newest of `changes` took effect (None: none had)."""
    took_effect = [c.at for c in changes if c.at <= start]
    return start - max(took_effect) if took_effect else None


def lead_words(found: tuple[Change, timedelta] | None) -> str | None:
    """`12 minutes after deploy checkout v2.14.0`."""
    if found is None:
        return None
    change, gap = found
    minutes = int(gap.total_seconds() // 60)
    after = "less than a minute" if minutes < 1 else "1 minute" if minutes == 1 else f"{minutes} minutes"
    return f"{after} after {change.label()}"


def previous_version(change: Change, history: Iterable[Change]) -> str | None:
    """The version the same service and environment ran before: the newest succeeded deploy
    with a version, other than this one, that finished before it started."""
    earlier = [
        c
        for c in history
        if c.id != change.id
        and c.service == change.service
        and c.environment == change.environment
        and c.version
        and c.version != change.version
        and c.status == ChangeStatus.SUCCEEDED
        and c.at <= change.started_at
    ]
    return max(earlier, key=lambda c: c.at).version if earlier else None


def with_previous(shown: Sequence[Change], history: Sequence[Change]) -> list[Change]:
    """`shown`, each deploy that does not say what it replaced given the version the same
    service ran before it (from `history`): what a rollback command goes back to."""
    return [
        c
        if c.previous_version or not c.is_deploy
        else replace(c, previous_version=previous_version(c, history))
        for c in shown
    ]


# ---------------------------------------------------------------- the deploy gate

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class FreezeWindow:
    """A time no change should go out: once (`start` to `end`), or every week on `days`
    from `opens` to `closes` in the configured zone (past midnight when `closes` is earlier).
    `services` empty: every service."""

    name: str
    services: frozenset[str] = frozenset()
    start: datetime | None = None
    end: datetime | None = None
    days: frozenset[int] = frozenset()  # 0 = Monday
    opens: time | None = None
    closes: time | None = None

    def covers(self, service: str) -> bool:
        return not self.services or service == "*" or service in self.services

    def active(self, now: datetime, zone: tzinfo) -> bool:
        if self.start is not None and self.end is not None:
            return self.start <= now < self.end
        if self.opens is None or self.closes is None:
            return False
        local = now.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        if self.opens <= self.closes:
            return local.weekday() in self.days and self.opens <= clock < self.closes
        # Across midnight: the evening of a listed day, or the morning after it.
        yesterday = (local.weekday() - 1) % 7
        return (local.weekday() in self.days and clock >= self.opens) or (
            yesterday in self.days and clock < self.closes
        )


@dataclass(frozen=True)
class OpenIncident:
    """What the gate needs of an open incident."""

    number: int
    severity: str
    service: str | None
    title: str
    private: bool = False  # its title stays out of the gate's answer


@dataclass(frozen=True)
class Freeze:
    frozen: bool
    reason: str | None = None
    incidents: tuple[OpenIncident, ...] = ()
    windows: tuple[str, ...] = ()


def freeze(
    service: str,
    incidents: Sequence[OpenIncident],
    freeze_on: Iterable[str],
    windows: Iterable[FreezeWindow],
    now: datetime,
    zone: tzinfo,
) -> Freeze:
    """Whether `service` (or, for `*`, any service) may change now: frozen while an incident
    of a `freeze_on` severity is open on it, or while a freeze window covering it is active."""
    severities = set(freeze_on)
    holding = tuple(
        i
        for i in incidents
        if i.severity in severities and i.service and (service == "*" or i.service == service)
    )
    active = tuple(w.name for w in windows if w.covers(service) and w.active(now, zone))
    if not holding and not active:
        return Freeze(False)
    reasons = [
        f"{i.severity} incident #{i.number} is open on {i.service}" + ("" if i.private else f": {i.title}")
        for i in holding
    ]
    reasons += [f"freeze window {name} is active" for name in active]
    return Freeze(True, "; ".join(reasons), holding, active)


def frozen_by(severity: str, service: str | None, open_: bool, freeze_on: Iterable[str]) -> str | None:
    """`deploys to checkout are frozen`, for the summary of an open incident that freezes."""
    if not open_ or not service or severity not in set(freeze_on):
        return None
    return f"deploys to {service} are frozen while this incident is open"
