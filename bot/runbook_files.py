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
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.config import Matcher, label_matcher, parse_duration
from bot.domain.runbooks import Condition, Runbook, Step, template_problems

NAME = r"[a-z0-9][a-z0-9_-]{0,63}"
SUFFIXES = (".yaml", ".yml")


# ---------------------------------------------------------------- YAML with line numbers


class LinedDict(dict[str, Any]):
    line = 1
    key_lines: dict[str, int]


class LinedList(list[Any]):
    line = 1
    item_lines: list[int]


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(f"key `{key}` appears twice in the same mapping")
        self.line = line


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LinedDict:
    result = LinedDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise DuplicateKey(str(key), key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LinedList:
    result = LinedList(loader.construct_object(item, deep=True) for item in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [item.start_mark.line + 1 for item in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def line_of(raw: Any, loc: Iterable[str | int]) -> int:
    """The line of the deepest part of `loc` that exists in the parsed YAML."""
    line, node = getattr(raw, "line", 1), raw
    for part in loc:
        if isinstance(node, LinedDict) and part in node:
            line, node = node.key_lines[str(part)], node[str(part)]
        elif isinstance(node, LinedList) and isinstance(part, int) and 0 <= part < len(node):
            line, node = node.item_lines[part], node[part]
        else:
            break
    return line


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
    steps: list[StepSpec] = Field(min_length=1, max_length=200)

    def compile(self, version: str) -> Runbook:
        return Runbook(
            name=self.name,
            description=self.description.strip(),
            match=self.match.compile(),
            version=version,
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
                )
                for s in self.steps
            ),
        )

    def definition(self) -> dict[str, Any]:
        """What an incident stores: enough to rebuild this runbook after the file changed."""
        return self.model_dump(mode="json", exclude_defaults=True)


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

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class RunbookFile:
    path: str
    spec: RunbookSpec
    runbook: Runbook


def version_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:12]


def parse_file(
    path: str, content: bytes, *, roles: Iterable[str], severities: Iterable[str]
) -> tuple[RunbookFile | None, list[Problem]]:
    """Read one runbook file; every problem comes with its line."""
    try:
        raw = yaml.load(content.decode("utf-8"), Loader=_Loader)  # a SafeLoader subclass
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
        Problem(path, line_of(raw, loc), message) for loc, message in _meaning(spec, roles, severities)
    ]
    if problems:
        return None, problems
    return RunbookFile(path, spec, spec.compile(version_of(content))), []


def _meaning(
    spec: RunbookSpec, roles: Iterable[str], severities: Iterable[str]
) -> list[tuple[tuple[str | int, ...], str]]:
    """What the schema cannot see: duplicate ids, unknown roles, severities and variables."""
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
    return problems


def runbook_paths(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())


@dataclass
class Loaded:
    files: list[RunbookFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def runbooks(self) -> dict[str, RunbookFile]:
        return {f.runbook.name: f for f in self.files}


def load_directory(directory: Path, *, roles: Iterable[str], severities: Iterable[str]) -> Loaded:
    loaded = Loaded()
    if not directory.is_dir():
        loaded.problems.append(Problem(str(directory), 1, "no such directory"))
        return loaded
    roles, severities = list(roles), list(severities)
    names: dict[str, str] = {}
    for path in runbook_paths(directory):
        parsed, problems = parse_file(str(path), path.read_bytes(), roles=roles, severities=severities)
        loaded.problems.extend(problems)
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
        self, directory: str | Path | None, *, roles: Iterable[str], severities: Iterable[str]
    ) -> None:
        self.directory = Path(directory) if directory else None
        self.roles, self.severities = list(roles), list(severities)
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
                self._loaded = load_directory(self.directory, roles=self.roles, severities=self.severities)
        return self._loaded

    def all(self) -> list[RunbookFile]:
        return sorted(self.load().files, key=lambda f: f.runbook.name)

    def get(self, name: str) -> RunbookFile | None:
        return self.load().runbooks.get(name)
