"""Post-mortem drafts: what warroom recorded, rendered to Markdown and HTML (jinja2, sandboxed).
Pure: data in, documents out.

Every value a template prints is Slack text, converted from mrkdwn for the output
(`finalize`, bot/documents/mrkdwn.py): bold stays bold, mentions become names, and what a
person typed can neither break the document nor inject markup. The
built-in draft has a template for each format (converting a 10,000-line timeline from Markdown
takes most of a second); a custom template (warroom.yaml `postmortem_template`) is Markdown
only, runs in the same sandbox, and its HTML is converted from its Markdown, raw HTML escaped.
"""

from __future__ import annotations

import base64
import functools
import html
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, Template, TemplateError, TemplateSyntaxError, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import Markup

from bot.documents import mrkdwn
from bot.documents.timeline_chart import chart_data, timeline_png
from bot.domain.changes import Change
from bot.domain.metrics import METRICS, durations, format_duration
from bot.domain.people import Names

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_TEMPLATE = TEMPLATES / "postmortem.md.j2"
DEFAULT_HTML_TEMPLATE = TEMPLATES / "postmortem.html.j2"
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5}table{border-collapse:collapse;margin:.5rem 0}"
    "td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}"
)
MILESTONE_LABELS = {
    "started_at": "Started (impact began)",
    "detected_at": "Detected",
    "declared_at": "Declared",
    "acknowledged_at": "Acknowledged (commander assigned)",
    "mitigated_at": "Mitigated",
    "resolved_at": "Resolved",
    "closed_at": "Closed",
}


class PostmortemTemplateError(Exception):
    """A custom template that does not compile or render; names the file and line."""


@dataclass(frozen=True)
class RoleSpan:
    role: str
    user: str
    start: datetime
    end: datetime | None
    held: float  # seconds


@dataclass(frozen=True)
class AlertLine:
    source: str
    title: str
    status: str
    starts_at: datetime
    ends_at: datetime | None


@dataclass(frozen=True)
class ActionLine:
    """One run of a step's action: who ran what when, and what came back."""

    line: str  # "POST https://deploy.example.com/..." (secrets as [secret NAME])
    who: str
    at: datetime
    result: str  # "succeeded: 200 OK in 0.4 s", "failed: 503 ... (after 4 attempts)"
    answer: str | None = None  # its first 500 characters, secrets redacted


@dataclass(frozen=True)
class StepLine:
    position: int
    title: str
    outcome: str  # done | skipped | not reached | not applicable
    who: str | None = None
    at: datetime | None = None
    reason: str | None = None
    actions: tuple[ActionLine, ...] = ()


@dataclass(frozen=True)
class RunbookSection:
    name: str
    version: str
    steps: list[StepLine]


@dataclass(frozen=True)
class Entry:
    at: datetime
    who: str | None
    kind: str
    text: str
    stamp: str = ""  # its time as the timeline shows it (with seconds where a minute is shared)


@dataclass(frozen=True)
class UpdateLine:
    """An update sent beyond the channel: to the stakeholder channels, and the status page."""

    at: datetime
    who: str
    audience: str  # internal | public
    message: str
    components: str = ""  # "Checkout: partial outage; Search: operational"
    final: bool = False


@dataclass(frozen=True)
class FollowUpLine:
    text: str
    owner: str | None
    created_at: datetime
    priority: str = "P2"
    state: str = "open"  # open | done | wont_do
    due_at: datetime | None = None
    ticket: str | None = None  # its key in the tracker


@dataclass(frozen=True)
class PostmortemData:
    incident: Any  # the incident row (number, title, milestones, ...)
    version: int
    generated_at: datetime
    roles: list[RoleSpan]
    alerts: list[AlertLine]
    runbooks: list[RunbookSection]
    timeline: list[Entry]
    followups: list[FollowUpLine]
    names: Names = field(default_factory=Names)  # Slack id -> `Alice Smith (@alice)`
    chart: bytes | None = None  # the timeline picture (PNG), drawn by `chart()`
    comparison: str | None = None  # "Resolved in 42 min; SEV2 median over the last 90 days: ..."
    changes_before: list[Change] = field(default_factory=list)  # its service's, newest first
    changes_during: list[Change] = field(default_factory=list)
    cause: Change | None = None
    lookback: timedelta = timedelta(hours=2)
    updates: list[UpdateLine] = field(default_factory=list)


class PostmortemRenderer:
    def __init__(self, zone: tzinfo, template_path: str | Path | None = None) -> None:
        self.zone = zone
        self.template_path = Path(template_path) if template_path else DEFAULT_TEMPLATE
        self.template = self._load(self._environment(self.template_path, html=False), self.template_path)
        self.html_template: Template | None = None
        if template_path is None:
            self.html_template = self._load(
                self._environment(DEFAULT_HTML_TEMPLATE, html=True), DEFAULT_HTML_TEMPLATE
            )
        self.markdown_to_html = MarkdownIt("commonmark", {"html": False}).enable("table")

    def _environment(self, path: Path, *, html: bool) -> SandboxedEnvironment:
        out = mrkdwn.HTML if html else mrkdwn.MARKDOWN

        @pass_context
        def finalize(context: Context, value: Any) -> Any:
            """Every printed value: Slack text converted for the output; Markup as it is."""
            if value is None:
                return ""
            if isinstance(value, str) and not isinstance(value, Markup):
                return mrkdwn.convert(value, out, context["names"])
            return value

        @pass_context
        def plain(context: Context, text: str | None) -> str:
            return mrkdwn.plain(text, context["names"])

        @pass_context
        def user(context: Context, who: str | None) -> Markup:
            names: Names = context["names"]
            return Markup(out.text(names.name(who)))

        env = SandboxedEnvironment(
            loader=FileSystemLoader(str(path.parent)),
            finalize=finalize,
            autoescape=html,
            trim_blocks=True,
            keep_trailing_newline=True,
        )
        env.filters.update(time=self._time, duration=format_duration, user=user, plain=plain)
        return env

    @staticmethod
    def _load(env: SandboxedEnvironment, path: Path) -> Template:
        try:
            return env.get_template(path.name)
        except TemplateSyntaxError as exc:
            raise PostmortemTemplateError(f"{path}:{exc.lineno}: {exc.message}") from None
        except TemplateError as exc:
            raise PostmortemTemplateError(f"{path}: {exc}") from None
        except OSError as exc:
            raise PostmortemTemplateError(f"{path}: {exc.strerror}") from None

    def _time(self, at: datetime | None) -> str:
        if at is None:
            return "not reached"
        return _minute(at.replace(second=0, microsecond=0), self.zone)

    def _stamped(self, timeline: list[Entry]) -> list[Entry]:
        """Each entry with its time; HH:MM:SS where it shares its minute with a neighbour."""
        minutes = [e.at.replace(second=0, microsecond=0) for e in timeline]
        stamped = []
        for i, entry in enumerate(timeline):
            shared = (i > 0 and minutes[i - 1] == minutes[i]) or (
                i + 1 < len(minutes) and minutes[i + 1] == minutes[i]
            )
            stamp = _second(entry.at, self.zone) if shared else _minute(minutes[i], self.zone)
            stamped.append(Entry(entry.at, entry.who, entry.kind, entry.text, stamp))
        return stamped

    def chart(self, data: PostmortemData) -> bytes:
        """The timeline picture (a PNG): a quarter of a second, so drawn before render()."""
        title = mrkdwn.plain(data.incident.title, data.names)
        picture = chart_data(data.incident, title, data.alerts, data.timeline, data.generated_at)
        return timeline_png(picture, self.zone)

    def render(self, data: PostmortemData) -> tuple[str, str]:
        """Markdown and HTML of one draft."""
        incident = data.incident
        seconds = durations(incident)
        context = {
            "comparison": data.comparison,
            "chart": base64.b64encode(data.chart).decode() if data.chart else None,
            "chart_file": chart_file(incident.number, data.version),
            "incident": incident,
            "version": data.version,
            "generated_at": data.generated_at,
            "zone": str(self.zone),
            "duration": format_duration(seconds["time_to_resolve"]),
            "milestones": [(label, getattr(incident, name)) for name, label in MILESTONE_LABELS.items()],
            "metrics": [(name.replace("_", " ").capitalize(), seconds[name]) for name in METRICS],
            "roles": data.roles,
            "alerts": data.alerts,
            "runbooks": data.runbooks,
            "timeline": self._stamped(data.timeline),  # the built-in templates read `lines`
            "followups": data.followups,
            "changes_before": data.changes_before,
            "changes_during": sorted(data.changes_during, key=lambda c: c.at),
            "cause": data.cause,
            "lookback": data.lookback.total_seconds(),
            "updates": data.updates,
            "first_update": (
                (data.updates[0].at - incident.declared_at).total_seconds() if data.updates else None
            ),
            "names": data.names,
            "style": STYLE,
        }
        timeline = context["timeline"]
        lines = {"lines": _lines(timeline, mrkdwn.MARKDOWN, data.names)}
        markdown = self._render(self.template, self.template_path, context | lines)
        if self.html_template is not None:
            lines = {"lines": _lines(timeline, mrkdwn.HTML, data.names)}
            return markdown, self._render(self.html_template, DEFAULT_HTML_TEMPLATE, context | lines)
        title = f"Post-mortem #{incident.number} {mrkdwn.plain(incident.title, data.names)}"
        return markdown, wrap_html(title, self.markdown_to_html.render(markdown))

    @staticmethod
    def _render(template: Template, path: Path, context: dict[str, Any]) -> str:
        try:
            return template.render(context)
        except Exception as exc:
            raise PostmortemTemplateError(f"{path}:{_template_line(exc, path)}: {exc}") from None


def _lines(timeline: list[Entry], out: mrkdwn.Format, names: Names) -> list[Markup]:
    """The timeline's lines, written for one output outside the template: a 10,000-entry
    timeline would otherwise spend most of its time in the sandbox's attribute checks."""
    people: dict[str | None, str] = {}
    lines = []
    for entry in timeline:
        who = people.get(entry.who)
        if who is None:
            who = people[entry.who] = out.text(names.name(entry.who))
        text = mrkdwn.convert(entry.text, out, names)
        lines.append(Markup(f"{entry.stamp} [{out.text(entry.kind)}] {who}: {text}"))
    return lines


def chart_file(number: int, version: int) -> str:
    """The timeline picture's file, beside the draft's Markdown (which links to it)."""
    return f"incident-{number}-postmortem-v{version}-timeline.png"


def wrap_html(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8" />\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{body}</body>\n</html>\n"
    )


@functools.lru_cache(maxsize=4096)
def _minute(at: datetime, zone: tzinfo) -> Markup:
    """Timeline entries share minutes: format each minute once (Markup: nothing to convert)."""
    return Markup(at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"))


def _second(at: datetime, zone: tzinfo) -> Markup:
    return Markup(at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z"))


def _template_line(exc: BaseException, path: Path) -> str:
    """The template line a render error came from (jinja2 puts template frames in tracebacks)."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    return str(lines[-1]) if lines else "?"
