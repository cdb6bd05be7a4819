"""The status page as documents: HTML (the page and one per incident), JSON and an Atom feed.
Pure: a PageView in (bot/domain/status_page.py), text out. The same renderer serves
`/status` and writes the static copy; only the links differ (relative either way, so the
static copy works from any path)."""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape
from pydantic import BaseModel

from bot.domain.availability import Day
from bot.domain.metrics import format_duration
from bot.domain.status import ComponentState
from bot.domain.status_page import HISTORY_DAYS, IncidentRecord, PageView, PublicUpdate

TEMPLATES = Path(__file__).parent / "templates"
templates = Environment(
    loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, trim_blocks=True, lstrip_blocks=True
)
FEED_ENTRIES = 50


@dataclass(frozen=True)
class Links:
    """Where a page's links point, relative to the page itself."""

    home: str
    feed: str
    json: str
    incident_pattern: str  # with {id}

    def incident(self, public_id: str) -> str:
        return self.incident_pattern.format(id=public_id)


SERVED = Links("status", "status/feed.atom", "status.json", "status/incidents/{id}")  # from /status
SERVED_INCIDENT = Links(
    "../../status", "../feed.atom", "../../status.json", "{id}"
)  # from /status/incidents/x
STATIC = Links("index.html", "feed.atom", "status.json", "incidents/{id}.html")
STATIC_INCIDENT = Links("../index.html", "../feed.atom", "../status.json", "{id}.html")


def when(at: datetime, zone: tzinfo) -> str:
    local = at.astimezone(zone)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"


def day_text(day: Day) -> str:
    """What one uptime bar says, in words (its colour says the same)."""
    label = f"{day.day.day} {day.day:%b %Y}"
    if not day.by_state:
        return f"{label}: no incidents"
    parts = [
        f"{state.label.lower()} for {format_duration(t.total_seconds())}" for state, t in day.by_state.items()
    ]
    return f"{label}: " + ", ".join(parts)


def bars(days: list[Day]) -> Markup:
    """A component's uptime bars: each day's colour, and the same in words (a tooltip; for
    impaired days also text a screen reader reads). Built here, not in the template: 4,500
    bars for 50 components are most of the page."""
    items = []
    for day in days:
        if day.by_state:
            text = escape(day_text(day))
            items.append(f'<li class="{day.state.value}" title="{text}"><span class="sr">{text}</span></li>')
        else:
            items.append(_quiet_bar(day.day))
    return Markup("".join(items))


@functools.lru_cache(maxsize=512)
def _quiet_bar(day: date) -> str:
    return f'<li title="{day.day} {day:%b %Y}: no incidents"></li>'


def quiet_days(days: list[Day]) -> int:
    return sum(1 for day in days if not day.by_state)


def uptime(percent: float) -> str:
    return "100 %" if percent >= 100 else f"{min(percent, 99.99):.2f} %"


def lasted(record: IncidentRecord) -> str | None:
    end = record.ended
    return None if end is None else format_duration((end - record.first_seen).total_seconds())


def _context(page: PageView, links: Links) -> dict[str, object]:
    return {
        "page": page,
        "links": links,
        "when": lambda at: when(at, page.zone),
        "bars": bars,
        "quiet_days": quiet_days,
        "uptime": uptime,
        "lasted": lasted,
        "history_days": HISTORY_DAYS,
        "past_days": page.past_days,
        "states": list(ComponentState),
    }


def page_html(page: PageView, links: Links = SERVED) -> str:
    return templates.get_template("status.html.j2").render(**_context(page, links))


def incident_html(page: PageView, record: IncidentRecord, links: Links = SERVED_INCIDENT) -> str:
    return templates.get_template("status_incident.html.j2").render(
        **_context(page, links), record=record, updates=list(reversed(record.updates))
    )


def not_found_html(page: PageView, links: Links = SERVED_INCIDENT) -> str:
    return templates.get_template("status_missing.html.j2").render(**_context(page, links))


# ------------------------------------------------------------------ JSON


class UpdateOut(BaseModel):
    at: datetime
    status: str  # investigating, identified, monitoring, resolved
    message: str
    components: dict[str, ComponentState]


class IncidentOut(BaseModel):
    id: str
    title: str
    status: str
    impact: ComponentState
    started_at: datetime  # the first public update
    resolved_at: datetime | None
    url: str  # relative to /status.json
    components: list[str]
    updates: list[UpdateOut]  # newest first


class ComponentOut(BaseModel):
    name: str
    description: str | None
    status: ComponentState
    uptime_90d: float  # percent


class StatusOut(BaseModel):
    """/status.json: what /status shows, for scripts and other status pages."""

    title: str
    updated_at: datetime
    status: ComponentState  # the worst state of any component
    description: str
    components: list[ComponentOut]
    incidents: list[IncidentOut]  # active
    past_incidents: list[IncidentOut]  # resolved in the last days


def _update_out(update: PublicUpdate) -> UpdateOut:
    status = "resolved" if update.status.value == "closed" else update.status.value
    return UpdateOut(at=update.at, status=status, message=update.message, components=update.components)


def _incident_out(record: IncidentRecord, links: Links) -> IncidentOut:
    return IncidentOut(
        id=record.id,
        title=record.title,
        status="resolved" if not record.active else record.status.value,
        impact=record.impact,
        started_at=record.first_seen,
        resolved_at=record.ended,
        url=links.incident(record.id),
        components=record.affected,
        updates=[_update_out(u) for u in reversed(record.updates)],
    )


def page_json(page: PageView, links: Links = SERVED) -> StatusOut:
    return StatusOut(
        title=page.title,
        updated_at=page.generated_at,
        status=page.state,
        description=page.headline,
        components=[
            ComponentOut(
                name=c.name, description=c.description, status=c.state, uptime_90d=round(c.uptime, 4)
            )
            for c in page.components
        ],
        incidents=[_incident_out(r, links) for r in page.active],
        past_incidents=[_incident_out(r, links) for r in page.past],
    )


# ------------------------------------------------------------------ Atom


@dataclass(frozen=True)
class FeedEntry:
    id: str
    title: str
    link: str
    updated: datetime
    text: str


def feed_atom(
    page: PageView, records: list[IncidentRecord], *, base: str, links: Links, self_url: str
) -> str:
    """One entry per public update, newest first. `base`: what the links are relative to
    (an absolute URL when known)."""
    entries = [
        FeedEntry(
            f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'warroom-status/{r.id}/{u.at.isoformat()}')}",
            f"{r.title}: {u.status_label}",
            base + links.incident(r.id),
            u.at,
            u.message + "".join(f"\n{name}: {state.label}" for name, state in u.components.items()),
        )
        for r in records
        for u in r.updates
    ]
    entries.sort(key=lambda e: e.updated, reverse=True)
    entries = entries[:FEED_ENTRIES]
    updated = entries[0].updated if entries else page.generated_at - timedelta(days=HISTORY_DAYS)
    return templates.get_template("status_feed.atom.j2").render(
        title=page.title,
        feed_id=f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'warroom-status/' + page.title)}",
        updated=updated,
        home=base + links.home,
        self_url=self_url,
        entries=entries,
    )


def etag(body: str | bytes) -> str:
    data = body.encode() if isinstance(body, str) else body
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
