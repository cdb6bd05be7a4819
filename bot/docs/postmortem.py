"""Post-mortem drafts: what warroom recorded, rendered to Markdown (jinja2, sandboxed) and
from the Markdown to HTML. Pure: data in, documents out.

Every value a template prints is escaped for Markdown (`finalize`), so a title or a note can
neither break the document nor inject markup; the HTML converter escapes any raw HTML left.
A custom template (warroom.yaml `postmortem_template`) runs in the same sandbox.
"""

from __future__ import annotations

import html
import re
import traceback
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt

from bot.domain.metrics import METRICS, durations

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_TEMPLATE = TEMPLATES / "postmortem.md.j2"
MILESTONE_LABELS = {
    "started_at": "Started (impact began)",
    "detected_at": "Detected",
    "declared_at": "Declared",
    "acknowledged_at": "Acknowledged (commander assigned)",
    "mitigated_at": "Mitigated",
    "resolved_at": "Resolved",
    "closed_at": "Closed",
}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]{}|!#~])")
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


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
class StepLine:
    position: int
    title: str
    outcome: str  # done | skipped | not reached | not applicable
    who: str | None = None
    at: datetime | None = None
    reason: str | None = None


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


@dataclass(frozen=True)
class FollowUpLine:
    text: str
    owner: str | None
    created_at: datetime


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


def markdown_escape(value: Any) -> str:
    """Text safe to drop anywhere in a Markdown line: no markup, no raw HTML, one line."""
    text = "" if value is None else str(value)
    text = _MENTION.sub(r"@\1", text)
    text = re.sub(r"\s+", " ", text)  # one line, whatever the user typed
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "not reached"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


class PostmortemRenderer:
    def __init__(self, zone: tzinfo, template_path: str | Path | None = None) -> None:
        self.zone = zone
        self.template_path = Path(template_path) if template_path else DEFAULT_TEMPLATE
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(self.template_path.parent)),
            finalize=markdown_escape,
            autoescape=False,
            trim_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters.update(time=self._time, duration=format_duration, user=_user)
        self.markdown_to_html = MarkdownIt("commonmark", {"html": False}).enable("table")
        self.template = self._load()

    def _load(self) -> Template:
        try:
            return self.env.get_template(self.template_path.name)
        except TemplateSyntaxError as exc:
            raise PostmortemTemplateError(f"{self.template_path}:{exc.lineno}: {exc.message}") from None
        except TemplateError as exc:
            raise PostmortemTemplateError(f"{self.template_path}: {exc}") from None
        except OSError as exc:
            raise PostmortemTemplateError(f"{self.template_path}: {exc.strerror}") from None

    def _time(self, at: datetime | None) -> str:
        if at is None:
            return "not reached"
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z")

    def render(self, data: PostmortemData) -> tuple[str, str]:
        """Markdown and HTML of one draft."""
        incident = data.incident
        seconds = durations(incident)
        context = {
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
            "timeline": data.timeline,
            "followups": data.followups,
        }
        try:
            markdown = self.template.render(context)
        except Exception as exc:
            raise PostmortemTemplateError(
                f"{self.template_path}:{_template_line(exc, self.template_path)}: {exc}"
            ) from None
        title = f"Post-mortem #{incident.number} {incident.title}"
        return markdown, wrap_html(title, self.markdown_to_html.render(markdown))


def wrap_html(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8" />\n'
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
        "line-height:1.5}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}"
        "</style>\n</head>\n<body>\n"
        f"{body}</body>\n</html>\n"
    )


def _user(user: str | None) -> str:
    if not user:
        return "warroom"
    return f"@{user}" if re.fullmatch(r"[UW][A-Z0-9]+", user) else user


def _template_line(exc: BaseException, path: Path) -> str:
    """The template line a render error came from (jinja2 puts template frames in tracebacks)."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    return str(lines[-1]) if lines else "?"
