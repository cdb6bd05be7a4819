"""The `action` of a runbook step in YAML (runbooks/README.md, "Actions"): its schema, and the
checks `warroom runbooks validate` runs on it that need the configuration (allowed hosts, roles)
and the environment (secrets that are not set are a warning, not an error: the file may be
validated on a machine that does not hold them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.config import Settings, parse_duration
from bot.domain.actions import (
    Action,
    ActionKind,
    BuiltinAction,
    HostPolicy,
    HttpAction,
    references,
)
from bot.domain.followups import PRIORITIES
from bot.domain.incident import Status

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_TIMEOUT = 60.0  # seconds: a run holds its job's lease while it waits
# Headers warroom sets itself (the key of a run), or that would lie about the request.
RESERVED_HEADERS = frozenset({"idempotency-key", "host", "content-length", "transfer-encoding", "connection"})
# warroom's own credentials are not for runbooks to send anywhere.
OWN_SECRETS = frozenset(name.upper() for name in Settings.model_fields)
Loc = tuple[str | int, ...]
TemplateCheck = Callable[[str], list[str]]


class HttpSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(min_length=1, max_length=2000)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(default=None, alias="json")
    form: dict[str, str] | None = None
    timeout: str | int = "30s"
    expect: list[int] = Field(default_factory=list, max_length=20)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str | int) -> str | int:
        seconds = parse_duration(value).total_seconds()
        if not 0 < seconds <= MAX_TIMEOUT:
            raise ValueError(f"must be between 1s and {MAX_TIMEOUT:.0f}s")
        return value

    @field_validator("expect")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        for status in value:
            if not 100 <= status <= 599:
                raise ValueError(f"{status} is not an HTTP status")
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name or any(not (c.isalnum() or c in "-_") for c in name):
                raise ValueError(f"{name!r} is not a header name")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"{name} is set by warroom (each run sends its own Idempotency-Key)")
        return value

    @model_validator(mode="after")
    def _one_body(self) -> HttpSpec:
        if self.body is not None and self.form is not None:
            raise ValueError("give json or form, not both")
        if len(json.dumps(self.body)) > 10_000:
            raise ValueError("json: keep the body under 10,000 characters")
        return self

    def compile(self) -> HttpAction:
        return HttpAction(
            method=self.method,
            url=self.url.strip(),
            headers=tuple(self.headers.items()),
            json=self.body,
            form=tuple(self.form.items()) if self.form is not None else None,
            timeout=parse_duration(self.timeout).total_seconds(),
            expect=tuple(self.expect),
        )


class FollowupSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    owner: str | None = None  # a role
    priority: str | None = None

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in PRIORITIES:
            raise ValueError(f"must be one of {', '.join(PRIORITIES)}")
        return value.upper() if value else None


class ActionSpec(BaseModel):
    """Exactly one of: http, status, page, followup, update, note."""

    model_config = ConfigDict(extra="forbid")

    http: HttpSpec | None = None
    status: str | None = None
    page: str | None = Field(default=None, max_length=100)
    followup: FollowupSpec | str | None = None
    update: str | None = Field(default=None, min_length=1, max_length=2000)
    note: str | None = Field(default=None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _exactly_one(self) -> ActionSpec:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "an action is exactly one of http, status, page, followup, update or note"
                + (f" (this one has {', '.join(given)})" if given else "")
            )
        return self

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() not in {s.value for s in Status}:
            raise ValueError(f"unknown status {value!r} ({', '.join(s.value for s in Status)})")
        return value.strip().lower() if value else None

    def compile(self) -> Action:
        if self.http is not None:
            return self.http.compile()
        if self.followup is not None:
            f = (
                self.followup
                if isinstance(self.followup, FollowupSpec)
                else FollowupSpec(title=self.followup)
            )
            return BuiltinAction(ActionKind.FOLLOWUP, f.title.strip(), owner=f.owner, priority=f.priority)
        for kind in (ActionKind.STATUS, ActionKind.PAGE, ActionKind.UPDATE, ActionKind.NOTE):
            text = getattr(self, kind.value)
            if text is not None:
                return BuiltinAction(kind, text.strip())
        raise AssertionError("validated: exactly one kind")

    def templates(self) -> Iterable[tuple[Loc, str]]:
        """Every text of the action that is a template, with where it is."""
        if self.http is not None:
            yield ("http", "url"), self.http.url
            for name, value in self.http.headers.items():
                yield ("http", "headers", name), value
            for name, value in (self.http.form or {}).items():
                yield ("http", "form", name), value
            yield from ((("http", "json", *loc), text) for loc, text in _strings(self.http.body))
        elif isinstance(self.followup, FollowupSpec):
            yield ("followup", "title"), self.followup.title
        else:
            for name in ("followup", "update", "note", "page"):
                value = getattr(self, name)
                if isinstance(value, str):
                    yield (name,), value


def _strings(value: Any, loc: Loc = ()) -> Iterable[tuple[Loc, str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*loc, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*loc, str(key)))


def action_problems(
    spec: ActionSpec, policy: HostPolicy, roles: set[str], check: TemplateCheck
) -> list[tuple[Loc, str]]:
    """What is wrong with an action (relative locations): templates, hosts, owners, secrets
    that are warroom's own."""
    problems: list[tuple[Loc, str]] = []
    for loc, text in spec.templates():
        problems += [(loc, f"action.{'.'.join(map(str, loc))}: {p}") for p in check(text)]
        for name in references(text):
            if name in OWN_SECRETS:
                problems.append(
                    (loc, f"action: `${{{name}}}` is one of warroom's own settings, not for runbooks")
                )
    if spec.http is not None:
        url = spec.http.url.strip()
        host = urlsplit(url).netloc if "://" in url else ""
        if not host or "{" in host or "$" in host:
            problems.append(
                (
                    ("http", "url"),
                    "action.http.url: write the host out (https://host/...); only the path may be a template",
                )
            )
        elif problem := policy.url_problem(url.split("?")[0].split("{")[0]):
            problems.append((("http", "url"), f"action.http.url: {problem}"))
    if isinstance(spec.followup, FollowupSpec) and spec.followup.owner and spec.followup.owner not in roles:
        problems.append(
            (
                ("followup", "owner"),
                f"action.followup.owner: unknown role `{spec.followup.owner}` (roles: {', '.join(sorted(roles))})",
            )
        )
    return problems


def unset_secrets(spec: ActionSpec, environ: Mapping[str, str]) -> list[tuple[Loc, str]]:
    """Secrets the action reads that this environment does not set (a warning)."""
    return [
        (loc, f"action: `${{{name}}}` is not set here; the action fails until it is")
        for loc, text in spec.templates()
        for name in references(text)
        if name not in OWN_SECRETS and not environ.get(name)
    ]
