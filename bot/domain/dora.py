"""DORA figures, defined once (the README repeats these words):

- A **deployment** is a change of kind `deploy` that went out: its last status is `succeeded`
  or `rolled_back` (a `failed` deploy never went out), in a counted environment
  (`changes.environments`), that started in the period.
- **Deployment frequency** = deployments in the period / days in the period.
- **Change failure rate** = deployments linked as the cause of an incident (`/incident cause`,
  the Suspect button) / deployments. A deployment several incidents name counts once.
- **Failed deployment recovery time** = resolved - started (impact start) of each incident
  whose impact started in the period and whose cause is a deployment: count, p50, p90, max.
  Unresolved ones are counted as missing.
- Drills are excluded. Grouped by service: a deployment by its own service, an incident by
  its cause's service.

Pure: no I/O.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from bot.domain.changes import Change, ChangeStatus
from bot.domain.metrics import Stats, calendar_buckets, stats

WENT_OUT = frozenset({ChangeStatus.SUCCEEDED, ChangeStatus.ROLLED_BACK})
DORA_GROUPINGS = ("service",)


@dataclass(frozen=True)
class CausedIncident:
    """What the figures need of an incident: when, whether a drill, and its cause."""

    number: int
    started_at: datetime
    resolved_at: datetime | None
    cause: str | None  # the change id linked as its cause
    drill: bool = False


@dataclass
class DoraGroup:
    deployments: int = 0
    failed: int = 0  # deployments linked as an incident's cause
    recovery: Stats = field(default_factory=lambda: stats([]))
    per_day: float = 0.0

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.deployments if self.deployments else None


@dataclass(frozen=True)
class DoraReport:
    start: datetime
    end: datetime
    zone: tzinfo
    by: str | None
    groups: dict[str, DoraGroup]  # "all" when not grouped
    overall: DoraGroup
    weeks: list[str]  # the chart's buckets
    weekly_deployments: list[int]
    weekly_failed: list[int]

    @property
    def days(self) -> float:
        return max((self.end - self.start).total_seconds() / 86400, 1 / 24)


def is_deployment(change: Change) -> bool:
    return change.is_deploy and change.status in WENT_OUT


def dora(
    changes: Iterable[Change],
    incidents: Iterable[CausedIncident],
    causes: Iterable[str],
    start: datetime,
    end: datetime,
    zone: tzinfo,
    by: str | None = None,
) -> DoraReport:
    """`changes`: the period's changes (folded); `incidents`: those whose impact started in
    the period; `causes`: every change id any non-drill incident names as its cause (a deploy
    of the period may be blamed by an incident of the next one)."""
    if by is not None and by not in DORA_GROUPINGS:
        raise ValueError(f"cannot group DORA figures by {by!r}; choose service")
    deployments = [c for c in changes if is_deployment(c) and start <= c.started_at <= end]
    blamed = set(causes)
    by_id = {c.id: c for c in deployments}
    days = max((end - start).total_seconds() / 86400, 1 / 24)

    def key(service: str) -> str:
        return service if by == "service" else "all"

    counts: dict[str, DoraGroup] = {}
    for change in deployments:
        group = counts.setdefault(key(change.service), DoraGroup())
        group.deployments += 1
        group.failed += change.id in blamed
    recoveries: dict[str, list[float | None]] = {}
    everything: list[float | None] = []
    for incident in incidents:
        cause = by_id.get(incident.cause or "") if incident.cause else None
        if incident.drill or cause is None or not start <= incident.started_at <= end:
            continue
        seconds = (
            max((incident.resolved_at - incident.started_at).total_seconds(), 0.0)
            if incident.resolved_at
            else None
        )
        recoveries.setdefault(key(cause.service), []).append(seconds)
        everything.append(seconds)
    for name, values in recoveries.items():
        counts.setdefault(name, DoraGroup()).recovery = stats(values)
    for group in counts.values():
        group.per_day = group.deployments / days
    overall = DoraGroup(
        deployments=len(deployments),
        failed=sum(c.id in blamed for c in deployments),
        recovery=stats(everything),
        per_day=len(deployments) / days,
    )
    labels, weekly, weekly_failed = _weekly(deployments, blamed, start, end, zone)
    return DoraReport(
        start, end, zone, by, dict(sorted(counts.items())), overall, labels, weekly, weekly_failed
    )


def _weekly(
    deployments: list[Change], blamed: set[str], start: datetime, end: datetime, zone: tzinfo
) -> tuple[list[str], list[int], list[int]]:
    """The chart's weeks, with the deployments of each and how many of them were blamed."""
    weeks = calendar_buckets(start, end, "week", zone)
    begins = [at for _, at in weeks]
    weekly, failed = [0] * len(weeks), [0] * len(weeks)
    for change in deployments:
        i = max(bisect_right(begins, change.started_at) - 1, 0)
        weekly[i] += 1
        failed[i] += change.id in blamed
    return [label for label, _ in weeks], weekly, failed


def per_week(group: DoraGroup) -> float:
    return group.per_day * 7
