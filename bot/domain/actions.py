"""Executable runbook steps: what an action is, what one run of it sends, and the rules around
it (secrets, hosts and addresses, what an answer means).

Pure: the request is rendered, its `${NAME}` secrets filled in and redacted, its host and
addresses judged here. The sender (bot/integrations/actions.py) does the I/O; the service
(bot/services/actions.py) keeps the books.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from bot.domain.incident import DomainError

ANSWER_SHOWN = 500  # characters of an answer kept for the timeline and the post-mortem
MAX_ATTEMPTS = 4  # one run: the first try and three retries (connection errors, 429, 5xx)
MAX_RETRY_WAIT = 120.0  # seconds; a Retry-After longer than this fails the run (Retry is a click away)
REDACTED = "[redacted]"
AUTO = "warroom"  # who runs a `run: auto` step
AUTO_NAME = "warroom (run: auto)"  # ... as documents and messages name it


class ActionKind(StrEnum):
    HTTP = "http"
    STATUS = "status"  # set the incident's status
    PAGE = "page"  # page a service through PagerDuty
    FOLLOWUP = "followup"  # add a follow-up
    UPDATE = "update"  # post a status update
    NOTE = "note"  # add a note to the timeline


class RunState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class HttpAction:
    method: str
    url: str  # a template; its host is written out (checked against actions.allowed_hosts)
    headers: tuple[tuple[str, str], ...] = ()
    json: Any = None  # a JSON body whose strings are templates
    form: tuple[tuple[str, str], ...] | None = None  # a form body (values are templates)
    timeout: float = 30.0
    expect: tuple[int, ...] = ()  # the statuses that mean it worked; empty: any 2xx


@dataclass(frozen=True)
class BuiltinAction:
    """A built-in: the same service as the command of that name."""

    kind: ActionKind
    text: str  # the status, the service, the follow-up's title, the update's or note's text
    owner: str | None = None  # a follow-up's owner: a role, whose holder it goes to
    priority: str | None = None  # a follow-up's priority


Action = HttpAction | BuiltinAction


# ---------------------------------------------------------------- secrets

_REFERENCE = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)\})")


def references(text: str) -> list[str]:
    """The environment variables a text reads (`${NAME}`; `$$` is a literal `$`)."""
    return [m.group(2) for m in _REFERENCE.finditer(text) if m.group(2)]


class MissingSecret(DomainError):
    pass


def expand(text: str, environ: Mapping[str, str], used: set[str]) -> str:
    """`${NAME}` from the environment (each value used is added to `used`, for redaction)."""

    def value(match: re.Match[str]) -> str:
        if match.group(1):
            return "$"
        name = match.group(2)
        found = environ.get(name)
        if not found:
            raise MissingSecret(f"`{name}` is not set in warroom's environment: the action needs it.")
        used.add(found)
        return found

    return _REFERENCE.sub(value, text)


def masked(text: str) -> str:
    """What a person is shown: every `${NAME}` as `[secret NAME]`."""
    return _REFERENCE.sub(lambda m: "$" if m.group(1) else f"[secret {m.group(2)}]", text)


def redact(text: str, secrets: Iterable[str]) -> str:
    """The text with every secret value taken out, as sent or as an answer may echo it
    (percent-encoded, or escaped inside JSON)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}:
            text = text.replace(form, REDACTED)
    return text


def literal(value: str) -> str:
    """An inserted value as text that expands to itself (`$` doubled): an alert label cannot
    name a secret for the request to carry away."""
    return value.replace("$", "$$")


# ---------------------------------------------------------------- one run's request


@dataclass(frozen=True)
class Prepared:
    """What one run sends, rendered when it was asked for, secrets still `${NAME}`: the form
    shows it, the database keeps it, the sender fills the secrets in."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    json: Any
    form: tuple[tuple[str, str], ...] | None
    timeout: float
    expect: tuple[int, ...]

    @property
    def line(self) -> str:
        return f"{self.method} {masked(self.url)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": [list(h) for h in self.headers],
            "json": self.json,
            "form": [list(f) for f in self.form] if self.form is not None else None,
            "timeout": self.timeout,
            "expect": list(self.expect),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prepared:
        form = data.get("form")
        return cls(
            method=str(data["method"]),
            url=str(data["url"]),
            headers=tuple((str(k), str(v)) for k, v in data.get("headers", [])),
            json=data.get("json"),
            form=tuple((str(k), str(v)) for k, v in form) if form is not None else None,
            timeout=float(data.get("timeout", 30.0)),
            expect=tuple(int(s) for s in data.get("expect", [])),
        )

    def shown(self) -> str:
        """The request as the confirmation form shows it: secrets masked."""
        lines = [self.line, *(f"{k}: {masked(v)}" for k, v in self.headers)]
        if self.json is not None:
            lines += ["", masked(json.dumps(self.json, indent=2, ensure_ascii=False))]
        elif self.form is not None:
            lines += ["", "&".join(f"{k}={masked(v)}" for k, v in self.form)]
        return "\n".join(lines)


Render = Callable[[str, Callable[[str], str]], str]  # (template, escape for inserted values)


def _header_value(value: str) -> str:
    return literal(re.sub(r"[\r\n\x00]", " ", value))


def prepare(action: HttpAction, render: Render) -> Prepared:
    """Render a step's request: values inserted into the URL are percent-encoded (one piece
    each), into headers and the body are plain text; none can name a secret."""

    def body(value: Any) -> Any:
        if isinstance(value, str):
            return render(value, literal)
        if isinstance(value, list):
            return [body(v) for v in value]
        if isinstance(value, dict):
            return {k: body(v) for k, v in value.items()}
        return value

    return Prepared(
        method=action.method,
        url=render(action.url, lambda v: quote(v, safe="")),
        headers=tuple((k, render(v, _header_value)) for k, v in action.headers),
        json=body(action.json) if action.json is not None else None,
        form=tuple((k, render(v, literal)) for k, v in action.form) if action.form is not None else None,
        timeout=action.timeout,
        expect=action.expect,
    )


@dataclass(frozen=True)
class Concrete:
    """A prepared request with its secrets filled in: only ever in the sender's memory."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes | None
    secrets: frozenset[str]


def fill(prepared: Prepared, environ: Mapping[str, str], idempotency_key: str) -> Concrete:
    used: set[str] = set()
    headers = [(k, expand(v, environ, used)) for k, v in prepared.headers]
    body: bytes | None = None
    if prepared.json is not None:

        def walk(value: Any) -> Any:
            if isinstance(value, str):
                return expand(value, environ, used)
            if isinstance(value, list):
                return [walk(v) for v in value]
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            return value

        body = json.dumps(walk(prepared.json), ensure_ascii=False).encode()
        headers.append(("Content-Type", "application/json"))
    elif prepared.form is not None:
        pairs = [(k, expand(v, environ, used)) for k, v in prepared.form]
        body = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs).encode()
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    headers.append(("Idempotency-Key", idempotency_key))
    return Concrete(prepared.method, expand(prepared.url, environ, used), headers, body, frozenset(used))


# ---------------------------------------------------------------- hosts and addresses

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class HostPolicy:
    """warroom.yaml `actions`: the hosts actions may call (`*.example.com` for its subdomains,
    `*` for any), and the networks of internal addresses they may reach anyway."""

    hosts: tuple[str, ...] = ()
    networks: tuple[Network, ...] = ()

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(fnmatchcase(host, pattern.lower()) for pattern in self.hosts)

    def address_problem(self, address: str) -> str | None:
        """Why an address may not be reached, or None: one that is not public (loopback,
        link-local, private, reserved) only when its network is listed."""
        ip = ipaddress.ip_address(address.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.networks):
            return None
        if ip.is_global:
            return None
        kind = (
            "loopback"
            if ip.is_loopback
            else "link-local"
            if ip.is_link_local
            else "private"
            if ip.is_private
            else "internal"
        )
        return f"{ip} is a {kind} address; list its network in actions.allowed_networks to allow it"

    def url_problem(self, url: str) -> str | None:
        """Why a rendered URL may not be called, or None."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 (raises on a bad port)
        except ValueError as exc:
            return f"not a URL ({exc})"
        if parts.scheme not in ("http", "https") or not host:
            return "the URL must start with http:// or https:// and name a host"
        if parts.username or parts.password:
            return "credentials go in a header (`${NAME}`), not in the URL"
        if not self.host_allowed(host):
            return f"{host} is not in actions.allowed_hosts"
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return None  # a name: its addresses are checked when it is called
        return self.address_problem(host)


def same_origin(url: str, other: str) -> bool:
    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


# ---------------------------------------------------------------- answers


class Verdict(StrEnum):
    OK = "ok"
    RETRY = "retry"  # a connection error, 429 or 5xx: the same request again, same key
    FAIL = "fail"


def verdict(status: int | None, expect: tuple[int, ...]) -> Verdict:
    if status is not None and (status in expect or (not expect and 200 <= status < 300)):
        return Verdict.OK
    if status is None or status == 429 or status >= 500:
        return Verdict.RETRY
    return Verdict.FAIL


def retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After in seconds (a number or an HTTP date), or None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


@dataclass(frozen=True)
class Outcome:
    """How one run ended (or how its last attempt failed)."""

    ok: bool
    summary: str  # "200 OK in 0.4 s", "connection refused", "would POST ... (drill)"
    status: int | None = None
    seconds: float | None = None
    answer: str = ""  # the first ANSWER_SHOWN characters, secrets redacted

    @staticmethod
    def excerpt(text: str, secrets: Iterable[str]) -> str:
        clean = redact(text, secrets)
        return clean[:ANSWER_SHOWN]


def runner(actor: str) -> str:
    """Who ran an action, as mrkdwn."""
    return AUTO_NAME if actor == AUTO else f"<@{actor}>"


def builtin_line(action: BuiltinAction, text: str) -> str:
    """What a built-in does, in words (`text`: its rendered text)."""
    match action.kind:
        case ActionKind.STATUS:
            return f"set the status to {text}"
        case ActionKind.PAGE:
            return f"page `{text}` in PagerDuty"
        case ActionKind.FOLLOWUP:
            return f"add the follow-up “{text}”" + (f" for the {action.owner}" if action.owner else "")
        case ActionKind.UPDATE:
            return f"post the status update “{text}”"
        case _:
            return f"add the note “{text}”"
