"""Runbook files: YAML in RUNBOOKS_DIR, read with line numbers, validated, turned into
domain runbooks (bot/domain/runbooks.py). Format: runbooks/README.md.

`validate_directory` is what `warroom runbooks validate` runs; `RunbookLibrary` is what the
running bot asks, and it re-reads the directory when a file changes. An incident keeps the
definition it started with (stored with its content hash), so editing a file never changes
a running incident.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.config import Matcher, label_matcher, parse_duration
from bot.domain.actions import HostPolicy
from bot.domain.runbooks import Condition, Runbook, Step, template_problems
from bot.runbook_actions import ActionSpec, action_problems, unset_secrets
from bot.yaml_lines import DuplicateKey, LinedLoader, line_of

NAME = r"[a-z0-9][a-z0-9_-]{0,63}"
SUFFIXES = (".yaml", ".yml")


# ---------------------------------------------------------------- schema


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class ConditionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severities: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    labels: dict[str, Matcher] = Field(default_factory=dict)
    changed_within: str | int | None = None  # its service changed at most this long before it started

    _lists = field_validator("severities", "services", mode="before")(_as_list)

    @field_validator("changed_within")
    @classmethod
    def _within(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("labels")
    @classmethod
    def _matchers_compile(cls, value: dict[str, Matcher]) -> dict[str, Matcher]:
        for name, spec in value.items():
            label_matcher(name, spec)
        return value

    def compile(self) -> Condition:
        return Condition(
            severities=frozenset(s.upper() for s in self.severities),
            services=frozenset(self.services),
            labels=tuple(
                (name, m)
                for name, spec in self.labels.items()
                if (m := label_matcher(name, spec)) is not None
            ),
            changed_within=parse_duration(self.changed_within) if self.changed_within is not None else None,
        )


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=f"^{NAME}$")
    title: str = Field(min_length=1, max_length=150)
    details: str = Field(default="", max_length=2500)
    owner: str | None = None
    when: ConditionSpec | None = None
    command: str | None = Field(default=None, max_length=1000)
    link: str | None = Field(default=None, max_length=500)
    confirm: bool = False
    remind_after: str | int | None = None
    action: ActionSpec | None = None
    run: Literal["manual", "auto"] = "manual"

    @model_validator(mode="after")
    def _auto_needs_action(self) -> StepSpec:
        if self.run == "auto" and self.action is None:
            raise ValueError("run: auto needs an action to run")
        return self

    @field_validator("remind_after")
    @classmethod
    def _duration(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("link")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"(https?://|\{\{)", value):
            raise ValueError("must be an http:// or https:// address")
        return value


class RunbookSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=f"^{NAME}$")
    description: str = Field(min_length=1, max_length=300)
    match: ConditionSpec = Field(default_factory=ConditionSpec)
    drill: Literal["dry", "live"] = "dry"  # in a drill, actions are dry runs unless `live`
    steps: list[StepSpec] = Field(min_length=1, max_length=200)

    def compile(self, version: str) -> Runbook:
        return Runbook(
            name=self.name,
            description=self.description.strip(),
            match=self.match.compile(),
            version=version,
            drill_live=self.drill == "live",
            steps=tuple(
                Step(
                    id=s.id,
                    title=s.title.strip(),
                    details=s.details.strip(),
                    owner=s.owner,
                    when=s.when.compile() if s.when else Condition(),
                    command=s.command.strip() if s.command else None,
                    link=s.link,
                    confirm=s.confirm,
                    remind_after=parse_duration(s.remind_after) if s.remind_after is not None else None,
                    action=s.action.compile() if s.action else None,
                    auto=s.run == "auto",
                )
                for s in self.steps
            ),
        )

    def definition(self) -> dict[str, Any]:
        """What an incident stores: enough to rebuild this runbook after the file changed."""
        return self.model_dump(mode="json", exclude_defaults=True, by_alias=True)


@lru_cache(maxsize=256)
def _compiled(version: str, definition_json: str) -> Runbook:
    return RunbookSpec.model_validate(json.loads(definition_json)).compile(version)


def from_definition(definition: dict[str, Any], version: str) -> Runbook:
    """Rebuild the runbook an incident stored (validated when it was attached)."""
    return _compiled(version, json.dumps(definition, sort_keys=True))


# ---------------------------------------------------------------- files


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str
    warning: bool = False  # reported, but the runbook is used

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: " + ("warning: " if self.warning else "") + self.message


@dataclass(frozen=True)
class RunbookFile:
    path: str
    spec: RunbookSpec
    runbook: Runbook


def version_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:12]


def parse_file(
    path: str,
    content: bytes,
    *,
    roles: Iterable[str],
    severities: Iterable[str],
    policy: HostPolicy = HostPolicy(),
    environ: Mapping[str, str] | None = None,
) -> tuple[RunbookFile | None, list[Problem]]:
    """Read one runbook file; every problem comes with its line. With `environ`, secrets an
    action reads that it does not set are warnings (the runbook is still used)."""
    try:
        raw = yaml.load(content.decode("utf-8"), Loader=LinedLoader)  # a SafeLoader subclass
    except UnicodeDecodeError:
        return None, [Problem(path, 1, "not UTF-8 text")]
    except DuplicateKey as exc:
        return None, [Problem(path, exc.line, str(exc))]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [
            Problem(path, mark.line + 1 if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}")
        ]
    if not isinstance(raw, dict):
        return None, [Problem(path, 1, "a runbook is a mapping with name, description and steps")]
    try:
        spec = RunbookSpec.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            problems.append(
                Problem(path, line_of(raw, error["loc"]), f"{key}: {message}" if key else message)
            )
        return None, problems
    problems = [
        Problem(path, line_of(raw, loc), message)
        for loc, message in _meaning(spec, roles, severities, policy)
    ]
    if problems:
        return None, problems
    warnings = [
        Problem(path, line_of(raw, ("steps", i, "action", *loc)), f"steps.{i}.{message}", warning=True)
        for i, step in enumerate(spec.steps)
        if step.action is not None and environ is not None
        for loc, message in unset_secrets(step.action, environ)
    ]
    return RunbookFile(path, spec, spec.compile(version_of(content))), warnings


def _meaning(
    spec: RunbookSpec, roles: Iterable[str], severities: Iterable[str], policy: HostPolicy
) -> list[tuple[tuple[str | int, ...], str]]:
    """What the schema cannot see: duplicate ids, unknown roles, severities and variables,
    actions' hosts."""
    roles, severities = set(roles), set(severities)
    problems: list[tuple[tuple[str | int, ...], str]] = []

    def check_severities(loc: tuple[str | int, ...], condition: ConditionSpec | None) -> None:
        for i, name in enumerate(condition.severities if condition else []):
            if name.upper() not in severities:
                problems.append(
                    (
                        (*loc, "severities", i),
                        f"unknown severity `{name}` (known: {', '.join(sorted(severities))})",
                    )
                )

    check_severities(("match",), spec.match)
    seen: dict[str, int] = {}
    for i, step in enumerate(spec.steps):
        if step.id in seen:
            problems.append(
                (("steps", i, "id"), f"duplicate step id `{step.id}` (also step {seen[step.id] + 1})")
            )
        seen.setdefault(step.id, i)
        if step.owner is not None and step.owner not in roles:
            problems.append(
                (("steps", i, "owner"), f"unknown role `{step.owner}` (roles: {', '.join(sorted(roles))})")
            )
        check_severities(("steps", i, "when"), step.when)
        if "{{" in step.title or "{%" in step.title:
            problems.append(
                (("steps", i, "title"), f"steps.{i}.title: titles are not templates; use details")
            )
        for name in ("details", "command", "link"):
            text = getattr(step, name)
            for problem in template_problems(text) if text else []:
                problems.append((("steps", i, name), f"steps.{i}.{name}: {problem}"))
        if step.action is not None:
            for loc, problem in action_problems(step.action, policy, roles, template_problems):
                problems.append((("steps", i, "action", *loc), f"steps.{i}.{problem}"))
    return problems


def runbook_paths(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())


@dataclass
class Loaded:
    files: list[RunbookFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def runbooks(self) -> dict[str, RunbookFile]:
        return {f.runbook.name: f for f in self.files}


def load_directory(
    directory: Path,
    *,
    roles: Iterable[str],
    severities: Iterable[str],
    policy: HostPolicy = HostPolicy(),
    environ: Mapping[str, str] | None = None,
) -> Loaded:
    loaded = Loaded()
    if not directory.is_dir():
        loaded.problems.append(Problem(str(directory), 1, "no such directory"))
        return loaded
    roles, severities = list(roles), list(severities)
    names: dict[str, str] = {}
    for path in runbook_paths(directory):
        parsed, problems = parse_file(
            str(path), path.read_bytes(), roles=roles, severities=severities, policy=policy, environ=environ
        )
        loaded.problems.extend(p for p in problems if not p.warning)
        loaded.warnings.extend(p for p in problems if p.warning)
        if parsed is None:
            continue
        if parsed.runbook.name in names:
            loaded.problems.append(
                Problem(
                    str(path),
                    1,
                    f"name: `{parsed.runbook.name}` is also the name of {names[parsed.runbook.name]}",
                )
            )
            continue
        names[parsed.runbook.name] = str(path)
        loaded.files.append(parsed)
    return loaded


class RunbookLibrary:
    """The runbooks on disk, re-read when a file is added, changed or removed."""

    def __init__(
        self,
        directory: str | Path | None,
        *,
        roles: Iterable[str],
        severities: Iterable[str],
        policy: HostPolicy = HostPolicy(),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = Path(directory) if directory else None
        self.roles, self.severities = list(roles), list(severities)
        self.policy, self.environ = policy, environ
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._loaded = Loaded()

    def _current_stamp(self) -> tuple[tuple[str, int, int], ...]:
        if self.directory is None or not self.directory.is_dir():
            return ()
        stamps = []
        for path in runbook_paths(self.directory):
            stat = path.stat()
            stamps.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(stamps)

    def load(self) -> Loaded:
        stamp = self._current_stamp()
        if stamp != self._stamp:
            self._stamp = stamp
            if self.directory is None or not self.directory.is_dir():
                self._loaded = Loaded()
            else:
                self._loaded = load_directory(
                    self.directory,
                    roles=self.roles,
                    severities=self.severities,
                    policy=self.policy,
                    environ=self.environ,
                )
        return self._loaded

    def all(self) -> list[RunbookFile]:
        return sorted(self.load().files, key=lambda f: f.runbook.name)

    def get(self, name: str) -> RunbookFile | None:
        return self.load().runbooks.get(name)
