"""MTTR reports: the metrics of domain/metrics.py, computed by the database.

Loading 100,000 incidents as rows into Python takes seconds, so the database does the work.
PostgreSQL computes everything in one GROUP BY (percentile_cont for the percentiles). SQLite,
which has no percentile functions, computes each incident's durations and its group (the
date arithmetic and the calendar), and Python only counts and sorts the numbers. The tests
hold both to domain/metrics.summarize, the reference definition.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bot.domain.followups import standing
from bot.domain.metrics import (
    FOLLOWUP_STANDINGS,
    GROUPINGS,
    MAX_PERIOD,
    METRICS,
    RECENT,
    TREND_METRIC,
    Group,
    MttrReport,
    Report,
    Stats,
    Trend,
    calendar_buckets,
    durations,
    resolve_comparison,
    stats,
)
from bot.domain.reviews import on_time
from bot.jobs import JobKind, report_queue
from bot.store import jobs
from bot.store.db import Database
from bot.store.tables import FollowUp, Incident, utcnow

INCIDENTS, FOLLOWUPS = Incident.__table__, FollowUp.__table__  # type: ignore[attr-defined]
INCIDENT, FOLLOWUP = INCIDENTS.c, FOLLOWUPS.c
T = TypeVar("T")


class ReportService:
    def __init__(self, db: Database, zone: tzinfo, *, notify: Callable[[], None] = lambda: None) -> None:
        self.db = db
        # Reports are the heaviest reads: two at a time, so that a burst of them queues here
        # instead of taking every connection from the commands Slack is waiting on.
        self._computing = asyncio.Semaphore(2)
        self.zone = zone
        self.notify = notify
        self.postgres = db.url.startswith("postgresql")

    async def comparison(self, incident: Incident) -> str | None:
        """How long a resolved incident took beside its severity's recent p50 and p90 (None
        before it is resolved, and for a drill, which the metrics leave out)."""
        seconds = durations(incident)["time_to_resolve"]
        if seconds is None or incident.drill:
            return None
        end = incident.resolved_at or utcnow()
        report = await self.mttr(RECENT, "severity", now=max(end, utcnow()))
        group = report.report.groups.get(incident.severity)
        return resolve_comparison(
            incident.severity, seconds, group.metrics.get(TREND_METRIC) if group else None
        )

    async def request_slack_report(
        self, channel: str, since: timedelta, user: str, response_url: str | None = None
    ) -> None:
        """`/incident report`: the report is computed and posted by a job (it draws a chart,
        and Slack may be slow or down); its response_url is the way back if it cannot post."""
        payload = {
            "channel": channel,
            "since": since.total_seconds(),
            "user": user,
            "response_url": response_url,
            "id": uuid.uuid4().hex[:8],  # names the chart's file, so that a retry can find it
        }
        async with self.db.transaction() as session:
            await jobs.enqueue(session, JobKind.SLACK_POST_REPORT, payload, queue=report_queue(channel))
        self.notify()

    async def mttr(
        self,
        since: timedelta | None = None,
        by: str | None = None,
        *,
        now: datetime | None = None,
        include_private: bool = False,
    ) -> MttrReport:
        """Incidents whose impact started in the last `since` (all of them when None).
        Private incidents count only when asked (the operator's command line)."""
        if by is not None and by not in GROUPINGS:
            raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUPINGS)}")
        end = now or utcnow()
        if since is not None:
            start = end - min(since, MAX_PERIOD)
        else:
            async with self.db.sessions() as session:
                start = min(max(await self._first_start(session, end), end - MAX_PERIOD), end)
        async with self._computing:
            return await self._mttr(start, end, by, include_private)

    async def _mttr(
        self, start: datetime, end: datetime, by: str | None, include_private: bool
    ) -> MttrReport:
        period = sa.and_(INCIDENT.started_at >= start, INCIDENT.started_at <= end)
        if not include_private:
            period = sa.and_(period, INCIDENT.private.is_(False))
        counted = sa.and_(period, INCIDENT.drill.is_(False))
        unit = "week" if end - start <= timedelta(days=120) else "month"
        report_key = [self._group_key(by, start, end)] if by else []
        trend_key = [self._group_key(unit, start, end), INCIDENT.severity]
        drills_query = sa.select(sa.func.count()).where(period, INCIDENT.drill.is_(True))
        # The queries run at once, each on a connection of its own.
        if self.postgres:
            groups, trend_groups, drills = await asyncio.gather(
                self._read(self._aggregate_in_postgres, counted, report_key, list(METRICS)),
                self._read(self._aggregate_in_postgres, counted, trend_key, [TREND_METRIC]),
                self._read(_scalar, drills_query),
            )
        else:
            (groups, trend_groups), drills = await asyncio.gather(
                self._read(self._aggregate_in_sqlite, counted, report_key, trend_key),
                self._read(_scalar, drills_query),
            )
        buckets = [label for label, _ in calendar_buckets(start, end, unit, self.zone)]
        series: dict[str, list[float | None]] = {}
        for (bucket, severity), group in sorted(trend_groups.items()):
            line = series.setdefault(severity, [None] * len(buckets))
            line[buckets.index(bucket)] = group.metrics[TREND_METRIC].p50
        report = Report({key[0] if key else "all": g for key, g in sorted(groups.items())}, drills or 0)
        postmortems = await self._read(_postmortems, counted, end)
        followups = await self._read(_followups, counted, end)
        trend = Trend(unit, buckets, series)
        return MttrReport(start, end, self.zone, by, report, trend, postmortems, followups)

    async def _read(self, query: Callable[..., Awaitable[T]], *args: Any) -> T:
        async with self.db.sessions() as session:
            return await query(session, *args)

    async def _first_start(self, session: Any, end: datetime) -> datetime:
        first: datetime | None = await session.scalar(sa.select(sa.func.min(INCIDENT.started_at)))
        return first or end

    def _group_key(self, by: str, start: datetime, end: datetime) -> Any:
        if by == "severity":
            return INCIDENT.severity
        if by == "service":
            return sa.func.coalesce(INCIDENT.service, "(no service)")
        # A month or week of the configured zone: the zone's calendar is not the database's,
        # so the boundaries are computed here and the database only compares instants.
        buckets = calendar_buckets(start, end, by, self.zone)
        if self.postgres:
            return _bucket_in_postgres(INCIDENT.started_at, buckets)
        return _bucket_of(INCIDENT.started_at, buckets)

    def _seconds(self, metric: str) -> Any:
        begin, finish = (INCIDENT[name] for name in METRICS[metric])
        # A clock that ran backwards (an end before its start) counts as zero.
        if self.postgres:
            seconds = sa.cast(sa.extract("epoch", finish - begin), sa.Float)
            return sa.case((seconds < 0, 0.0), else_=seconds)
        # SQLite's two-argument max() is NULL when a milestone is (PostgreSQL's GREATEST is not).
        return sa.func.max((sa.func.julianday(finish) - sa.func.julianday(begin)) * 86400.0, 0.0)

    async def _aggregate_in_sqlite(
        self, session: Any, where: Any, report_key: list[Any], trend_key: list[Any]
    ) -> tuple[dict[tuple[str, ...], Group], dict[tuple[str, ...], Group]]:
        """One pass for the report and the trend: SQLite groups by both keys at once and
        computes the durations, handing each group's values over as one string; Python merges
        the groups and sorts the values. (SQLite has no percentile functions, and its window
        functions take ~400 ms per metric over 100,000 rows.)"""
        keys = [*report_key, *trend_key]
        query = (
            sa.select(
                *[key.label(f"g{i}") for i, key in enumerate(keys)],
                sa.func.count(),
                sa.func.sum(sa.case((INCIDENT.resolved_at.is_(None), 1), else_=0)),
                *[sa.func.group_concat(self._seconds(m)) for m in METRICS],
            )
            .where(where)
            .group_by(*keys)
        )
        found = (await session.execute(query)).all()
        # Splitting, merging and sorting the values is CPU work: a thread's, not the loop's.
        return await asyncio.to_thread(_merge, found, len(report_key), len(keys))

    async def _aggregate_in_postgres(
        self, session: Any, where: Any, keys: list[Any], metrics: list[str]
    ) -> dict[tuple[str, ...], Group]:
        """One GROUP BY; percentile_cont interpolates linearly, as the definition does."""
        labelled = [key.label(f"g{i}") for i, key in enumerate(keys)]
        # The durations are computed once per incident (OFFSET 0 keeps PostgreSQL from
        # inlining the subquery and computing each one again for every aggregate).
        rows = (
            sa.select(
                *labelled,
                INCIDENT.resolved_at.is_(None).label("open"),
                *[self._seconds(m).label(m) for m in metrics],
            )
            .where(where)
            .offset(0)
            .subquery()
        )
        group_by = [rows.c[label.name] for label in labelled]
        columns = []
        for metric in metrics:
            seconds = rows.c[metric]
            columns += [
                sa.func.count(seconds),
                sa.func.avg(seconds),
                sa.func.percentile_cont(postgresql.array([0.5, 0.9])).within_group(seconds),
                sa.func.max(seconds),
            ]
        query = sa.select(*group_by, sa.func.count(), sa.func.count().filter(rows.c.open), *columns)
        if keys:
            query = query.group_by(*group_by)
        groups: dict[tuple[str, ...], Group] = {}
        await session.execute(sa.text("SET LOCAL work_mem = '64MB'"))  # sort in memory
        for row in await session.execute(query):
            key = tuple(row[: len(keys)])
            incidents, open_, *measured = row[len(keys) :]
            if not incidents:  # no GROUP BY over no rows still gives one row
                continue
            group = groups[key] = Group(incidents=incidents, open=open_)
            for i, metric in enumerate(metrics):
                count, mean, percentiles, most = measured[4 * i : 4 * i + 4]
                p50, p90 = percentiles or (None, None)  # NULL when nothing was measured
                group.metrics[metric] = Stats(
                    count, incidents - count, _float(mean), _float(p50), _float(p90), _float(most)
                )
        return groups


async def _postmortems(session: Any, counted: Any, now: datetime) -> dict[str, int]:
    """Post-mortems published on time, late, missing (overdue) and not due yet."""
    counts = {"on_time": 0, "late": 0, "missing": 0, "pending": 0}
    rows = await session.execute(
        sa.select(INCIDENT.postmortem_published_at, INCIDENT.postmortem_due_at).where(
            counted, INCIDENT.postmortem_due_at.is_not(None)
        )
    )
    for published_at, due_at in rows:
        counts[on_time(published_at, due_at, now)] += 1
    return counts


async def _followups(session: Any, counted: Any, now: datetime) -> dict[str, dict[str, dict[str, int]]]:
    """The period's follow-ups by how they stand, per severity and per service."""
    grouped: dict[str, dict[str, dict[str, int]]] = {"severity": {}, "service": {}}
    rows = await session.execute(
        sa.select(INCIDENT.severity, INCIDENT.service, FOLLOWUP.state, FOLLOWUP.due_at, FOLLOWUP.done_at)
        .select_from(FOLLOWUPS.join(INCIDENTS, FOLLOWUP.incident_number == INCIDENT.number))
        .where(counted)
    )
    for severity, service, state, due, closed in rows:
        where = standing(state, due, closed, now)
        for kind, key in (("severity", severity), ("service", service or "(no service)")):
            counts = grouped[kind].setdefault(key, dict.fromkeys(FOLLOWUP_STANDINGS, 0))
            counts[where] += 1
    return {kind: dict(sorted(groups.items())) for kind, groups in grouped.items()}


async def _scalar(session: Any, query: Any) -> Any:
    return await session.scalar(query)


def _group(incidents: int, open_: int, values: dict[str, list[float]]) -> Group:
    """A group from the durations its incidents reached; the rest are missing."""
    return Group(
        incidents,
        open_,
        {m: replace(stats(numbers), missing=incidents - len(numbers)) for m, numbers in values.items()},
    )


def _bucket_in_postgres(at: Any, buckets: list[tuple[str, datetime]]) -> Any:
    """The label of the bucket holding `at`: width_bucket's binary search over the bucket
    starts, both lists sent as one array parameter each. (The same SQL for any number of
    buckets: ten years of weeks as CASE expressions took ~100 ms to build and compile, on
    the event loop.)"""
    labels = sa.bindparam(None, [label for label, _ in buckets], type_=postgresql.ARRAY(sa.Text))
    starts = sa.bindparam(
        None, [begins for _, begins in buckets], type_=postgresql.ARRAY(sa.DateTime(timezone=True))
    )
    return sa.Grouping(labels)[sa.func.width_bucket(at, starts)]


def _bucket_of(at: Any, buckets: list[tuple[str, datetime]]) -> Any:
    """The label of the bucket holding `at`, as a binary search of CASE expressions: six
    comparisons per row for three years of months instead of eighteen on average."""
    if len(buckets) == 1:
        return sa.literal(buckets[0][0])
    middle = len(buckets) // 2
    return sa.case(
        (at < buckets[middle][1], _bucket_of(at, buckets[:middle])), else_=_bucket_of(at, buckets[middle:])
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _merge(
    found: Sequence[Any], report_keys: int, keys: int
) -> tuple[dict[tuple[str, ...], Group], dict[tuple[str, ...], Group]]:
    """SQLite's groups (report key and trend key at once) merged into the report's groups
    and the trend's, with each group's values sorted into statistics."""
    report: dict[tuple[str, ...], tuple[list[int], list[list[float]]]] = {}
    trend: dict[tuple[str, ...], Group] = {}
    for row in found:
        incidents, open_, *joined = row[keys:]
        values = [list(map(float, text.split(","))) if text else [] for text in joined]
        counts, columns = report.setdefault(tuple(row[:report_keys]), ([0, 0], [[] for _ in METRICS]))
        counts[0] += incidents
        counts[1] += open_
        for column, numbers in zip(columns, values, strict=True):
            column.extend(numbers)
        resolve_times = values[list(METRICS).index(TREND_METRIC)]
        trend[tuple(row[report_keys:keys])] = _group(incidents, open_, {TREND_METRIC: resolve_times})
    groups = {
        key: _group(incidents, open_, dict(zip(METRICS, columns, strict=True)))
        for key, ((incidents, open_), columns) in report.items()
    }
    return groups, trend
