"""Runbooks: the model, match and `when` conditions, step templates and the checklist.

Pure Python: runbook files are read and validated in bot/runbook_files.py, step outcomes are
stored by the runbook service; these functions only decide.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.runtime import Undefined
from jinja2.sandbox import SandboxedEnvironment

from bot.domain.actions import Action
from bot.domain.alerts import LabelMatch
from bot.domain.incident import DomainError
from bot.domain.metrics import format_duration

# What step templates may use: {{ incident.<field> }} and {{ labels.<name> }} (the labels of
# the incident's first alert; an alert label the incident lacks renders as a placeholder).
INCIDENT_FIELDS = frozenset({"number", "title", "severity", "service", "status", "channel"})
# {{ changes }} (the suspects, newest first) and {{ last_change.<field> }} (the newest of them).
CHANGE_FIELDS = frozenset(
    {
        "id",
        "service",
        "environment",
        "kind",
        "status",
        "summary",
        "version",
        "previous_version",
        "author",
        "url",
    }
)
TEMPLATE_ROOTS = frozenset({"incident", "labels", "changes", "last_change"})


class StepState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Facts:
    """What conditions look at: the incident as it is now."""

    severity: str
    service: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    since_change: timedelta | None = None  # from its service's last change to the incident's start


@dataclass(frozen=True)
class Condition:
    """Every part given must hold; an empty part holds for anything."""

    severities: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    labels: tuple[tuple[str, LabelMatch], ...] = ()
    changed_within: timedelta | None = None  # its service changed at most this long before it started

    @property
    def empty(self) -> bool:
        return not (self.severities or self.services or self.labels or self.changed_within)

    def holds(self, facts: Facts) -> bool:
        if self.severities and facts.severity not in self.severities:
            return False
        if self.services and facts.service not in self.services:
            return False
        if self.changed_within is not None and (
            facts.since_change is None or facts.since_change > self.changed_within
        ):
            return False
        return all(match(facts.labels.get(name)) for name, match in self.labels)

    def describe(self) -> str:
        parts = []
        if self.severities:
            parts.append("/".join(sorted(self.severities)))
        if self.services:
            parts.append("service " + "/".join(sorted(self.services)))
        parts.extend(f"label {name}" for name, _ in self.labels)
        if self.changed_within is not None:
            parts.append(f"changed within {format_duration(self.changed_within.total_seconds())}")
        return ", ".join(parts) or "always"


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    details: str = ""
    owner: str | None = None  # a role: its holder is mentioned on the step
    when: Condition = Condition()
    command: str | None = None
    link: str | None = None
    confirm: bool = False  # dangerous: Done (and Run) ask for confirmation in a modal
    remind_after: timedelta | None = None  # measured from when the runbook started
    action: Action | None = None  # what Run does (bot/domain/actions.py)
    auto: bool = False  # `run: auto`: runs by itself when it becomes the next step (unless confirm)

    @property
    def runs_by_itself(self) -> bool:
        return self.action is not None and self.auto and not self.confirm


@dataclass(frozen=True)
class Runbook:
    name: str
    description: str
    match: Condition
    steps: tuple[Step, ...]
    version: str  # content hash of the file it came from
    drill_live: bool = False  # `drill: live`: in a drill its actions really run (else dry runs)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def dry_runs(self, drill: bool) -> bool:
        """Whether its actions send nothing in this incident: a drill, unless `drill: live`."""
        return drill and not self.drill_live


def matching(runbooks: Iterable[Runbook], facts: Facts) -> list[Runbook]:
    """Runbooks whose match rules hold for the incident. A runbook without match rules is
    only ever attached by name."""
    return [r for r in runbooks if not r.match.empty and r.match.holds(facts)]


# ---------------------------------------------------------------- templates


class Placeholder(Undefined):
    """A variable the incident has no value for renders as <name>, so the reader sees a gap
    to fill instead of an empty command."""

    def __str__(self) -> str:
        return f"<{self._undefined_name}>"


def _environment(finalize: Any = None) -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=Placeholder, finalize=finalize, autoescape=False)


_CHECKER = _environment()


def template_problems(text: str) -> list[str]:
    """Syntax errors and unknown variables in a step template."""
    try:
        tree = _CHECKER.parse(text)
    except TemplateSyntaxError as exc:
        return [f"template error: {exc.message} (template line {exc.lineno})"]
    problems = []
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in TEMPLATE_ROOTS:
            problems.append(
                f"unknown template variable `{name.name}` (use incident.*, labels.*, changes or last_change.*)"
            )
    for attr in tree.find_all(nodes.Getattr):
        reads_change = isinstance(attr.node, nodes.Name) and attr.node.name == "last_change"
        if reads_change and attr.attr not in CHANGE_FIELDS:
            problems.append(
                f"unknown template variable `last_change.{attr.attr}` "
                f"(last_change has {', '.join(sorted(CHANGE_FIELDS))})"
            )
        reads_incident = isinstance(attr.node, nodes.Name) and attr.node.name == "incident"
        if reads_incident and attr.attr not in INCIDENT_FIELDS:
            problems.append(
                f"unknown template variable `incident.{attr.attr}` "
                f"(incident has {', '.join(sorted(INCIDENT_FIELDS))})"
            )
    return sorted(set(problems))


def render(text: str, variables: Mapping[str, Any], escape: Any) -> str:
    """Render a step template; every value it inserts passes through `escape` (alert labels
    are not ours to trust)."""
    if "{" not in text:
        return text
    env = _environment(finalize=lambda value: escape(str(value)))
    try:
        return env.from_string(text).render(**variables)
    except Exception as exc:  # validated at load; a runtime surprise must not hide the step
        return f"{text} (template failed: {type(exc).__name__})"


_UNSHELLABLE = re.compile(r"[\x00-\x1f\x7f-\x9f`]")  # control characters; backticks end a code block


def shell_value(value: str) -> str:
    """A value as one shell word: control characters and backticks dropped, quoted when it
    holds anything a shell would act on (`prod; curl x | sh` stays one harmless argument)."""
    return shlex.quote(_UNSHELLABLE.sub("", value))


def render_command(text: str, variables: Mapping[str, Any]) -> str:
    """A step's command to copy: every inserted value is one shell word, and the command one line
    per line of the template (a value cannot add lines)."""
    return render(text, variables, shell_value)


def label_sources(text: str) -> list[str]:
    """The alert labels a template reads (`labels.namespace` -> "namespace"): values someone
    else wrote, which the reader should look at before running the command."""
    try:
        tree = _CHECKER.parse(text)
    except TemplateSyntaxError:
        return []
    found = [
        attr.attr
        for attr in tree.find_all(nodes.Getattr)
        if isinstance(attr.node, nodes.Name) and attr.node.name == "labels"
    ]
    found += [
        str(item.arg.value)
        for item in tree.find_all(nodes.Getitem)
        if isinstance(item.node, nodes.Name)
        and item.node.name == "labels"
        and isinstance(item.arg, nodes.Const)
    ]
    return sorted(set(found))


# ---------------------------------------------------------------- the walk


@dataclass(frozen=True)
class StepRef:
    """What a checklist button carries: the run, the step, and the version it showed."""

    run: int
    step: str
    version: str

    def encode(self) -> str:
        return json.dumps({"run": self.run, "step": self.step, "v": self.version}, separators=(",", ":"))

    @classmethod
    def decode(cls, value: str) -> StepRef:
        try:
            data = json.loads(value)
            return cls(int(data["run"]), str(data["step"]), str(data["v"]))
        except (ValueError, KeyError, TypeError):
            raise DomainError("That button is not one of warroom's checklist buttons.") from None


@dataclass(frozen=True)
class StepRecord:
    """What has happened to one step of a running runbook."""

    step_id: str
    state: StepState = StepState.PENDING
    taken_by: str | None = None
    finished_by: str | None = None
    finished_at: datetime | None = None
    skip_reason: str | None = None


def finish(record: StepRecord, step: Step, state: StepState) -> None:
    """Refuse to finish a step twice (a double click, or two people at once)."""
    if state is StepState.PENDING:
        raise ValueError("a step finishes as done or skipped")
    if record.state is StepState.DONE:
        raise DomainError(f"*{step.title}* was already done by <@{record.finished_by}>.")
    if record.state is StepState.SKIPPED:
        raise DomainError(f"*{step.title}* was already skipped by <@{record.finished_by}>.")


def take(record: StepRecord, step: Step, user: str) -> None:
    if record.state is not StepState.PENDING:
        raise DomainError(f"*{step.title}* is already {record.state.value}.")
    if record.taken_by == user:
        raise DomainError(f"You already have *{step.title}*.")


def clean_skip_reason(text: str | None) -> str:
    reason = " ".join((text or "").split())
    if not reason:
        raise DomainError("Say why the step is skipped: the post-mortem will ask.")
    if len(reason) > 500:
        raise DomainError(f"That reason is {len(reason)} characters long; keep it under 500.")
    return reason


@dataclass(frozen=True)
class Progress:
    """A running runbook split the way its checklist shows it."""

    finished: list[tuple[int, Step, StepRecord]]  # done or skipped, in runbook order
    pending: list[tuple[int, Step, StepRecord]]  # applicable and not finished yet
    not_applicable: list[tuple[int, Step]]  # their `when` does not hold now

    @property
    def done(self) -> int:
        return sum(1 for _, _, r in self.finished if r.state is StepState.DONE)

    @property
    def skipped(self) -> int:
        return sum(1 for _, _, r in self.finished if r.state is StepState.SKIPPED)

    @property
    def total(self) -> int:
        return len(self.finished) + len(self.pending)


def progress(runbook: Runbook, records: Mapping[str, StepRecord], facts: Facts) -> Progress:
    finished, pending, not_applicable = [], [], []
    for position, step in enumerate(runbook.steps, start=1):
        record = records.get(step.id, StepRecord(step.id))
        if record.state is not StepState.PENDING:
            finished.append((position, step, record))  # what was done stays shown as done
        elif step.when.holds(facts):
            pending.append((position, step, record))
        else:
            not_applicable.append((position, step))
    return Progress(finished, pending, not_applicable)
