"""Settings (environment and .env) and the validated YAML configuration (warroom.yaml).

Nothing else in warroom reads the environment: the composition root builds `Settings` once
and hands what each part needs down to it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.alerts import Action, LabelMatch, Route


class ConfigError(Exception):
    """A configuration problem, worded for the operator: file, key and what is wrong."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///./warroom.db"
    warroom_config: str = ""
    runbooks_dir: str = "./runbooks"
    postmortem_dir: str = "./postmortems"
    pagerduty_api_token: str = ""
    pagerduty_api_url: str = "https://api.pagerduty.com"
    pagerduty_events_url: str = "https://events.pagerduty.com"
    pagerduty_routing_key: str = ""
    pagerduty_webhook_secret: str = ""
    alert_webhook_token: str = ""
    port: int = 3000
    log_level: str = "info"
    # The part of Slack's rate limits this process may use: 1 for one replica, 1/3 for three.
    slack_rate_share: float = Field(default=1.0, gt=0, le=1)
    # The length of Slack's rate-limit minute in seconds: shortened only against the simulator
    # (tests, the demo and the benchmarks compress time).
    slack_rate_period: float = Field(default=60.0, gt=0)
    # How long a claimed job is a worker's before another worker (or a restarted one) may take
    # it; at least 15 s, so that it outlasts a Slack call (10 s timeout) and no job runs twice.
    job_lease_seconds: float = Field(default=60.0, ge=15)
    log_format: Literal["json", "text"] = "json"  # json: one object per line, with request id and incident
    # Seconds a request may take to send its headers, and its body: a sender that trickles
    # either is cut off (nobody holds a connection, or the worker, by sending slowly).
    request_timeout: float = Field(default=10.0, gt=0, le=300)
    # /readyz asks Slack (auth.test) at most this often, however often it is probed.
    readyz_slack_every: float = Field(default=30.0, ge=0)
    # Where `serve` listens: loopback unless told (the container image says 0.0.0.0).
    host: str = "127.0.0.1"
    # GET /metrics needs `Authorization: Bearer METRICS_TOKEN` when set.
    metrics_token: str = ""
    # Host names this server answers to (comma-separated, `*.example.com` allowed); unset: any.
    allowed_hosts: str = ""

    @property
    def allowed_host_list(self) -> list[str]:
        return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]

    def require_slack(self) -> None:
        # Socket Mode (an app token) needs no signing secret: nothing arrives over HTTP.
        needed = [("SLACK_BOT_TOKEN", self.slack_bot_token)]
        if not self.slack_app_token:
            needed.append(("SLACK_SIGNING_SECRET", self.slack_signing_secret))
        missing = [name for name, value in needed if not value]
        if missing:
            raise ConfigError(f"environment: {', '.join(missing)} must be set to serve Slack")


class SeverityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    pages: bool = False
    # How often the commander is reminded to post a status update; None: never.
    update_every: timedelta | None = None

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not re.fullmatch(r"SEV\d", value):
            raise ValueError("must look like SEV1 (SEV followed by one digit)")
        return value

    @field_validator("update_every", mode="before")
    @classmethod
    def _duration(cls, value: str | int | float | timedelta | None) -> timedelta | None:
        return value if value is None or isinstance(value, timedelta) else parse_duration(value)


class RoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,30}", value):
            raise ValueError("must be a short lowercase word")
        return value


DEFAULT_SEVERITIES = [
    SeverityConfig(
        name="SEV1",
        description="Critical: customer-facing outage or data loss",
        pages=True,
        update_every=timedelta(minutes=30),
    ),
    SeverityConfig(
        name="SEV2",
        description="Major: significant degradation for many users",
        pages=True,
        update_every=timedelta(hours=1),
    ),
    SeverityConfig(name="SEV3", description="Minor: limited impact, a workaround exists", pages=False),
    SeverityConfig(name="SEV4", description="Low: no customer impact yet", pages=False),
]
DEFAULT_ROLES = [
    RoleConfig(name="commander", description="Leads the response and makes the calls"),
    RoleConfig(name="scribe", description="Keeps the timeline and notes"),
    RoleConfig(name="comms", description="Updates stakeholders and the status page"),
]


def parse_duration(value: str | int | float) -> timedelta:
    """`90s`, `30m`, `4h`, `2d` (or a number of seconds)."""
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = re.fullmatch(r"\s*(\d{1,9})\s*([smhd])\s*", str(value))
    if not match:
        raise ValueError(f"{str(value)[:40]!r} is not a duration like 90s, 30m, 4h or 2d")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(seconds=amount * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


Matcher = str | dict[str, str | bool]


def label_matcher(where: str, spec: Matcher | None) -> LabelMatch | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        return LabelMatch(equals=spec)
    if set(spec) == {"regex"}:
        try:
            return LabelMatch(regex=re.compile(str(spec["regex"])))
        except re.error as exc:
            raise ValueError(f"{where}: bad regex: {exc}") from None
    if set(spec) == {"present"} and isinstance(spec["present"], bool):
        return LabelMatch(present=spec["present"])
    raise ValueError(f"{where}: use a string, {{regex: ...}} or {{present: true|false}}")


class RouteMatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Matcher | None = None
    service: Matcher | None = None
    labels: dict[str, Matcher] = Field(default_factory=dict)


class RouteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    match: RouteMatch = Field(default_factory=RouteMatch)
    action: Action = Action.DECLARE
    service: str | None = None
    severity: str | None = None
    runbook: str | None = None

    def compile(self, where: str) -> Route:
        return Route(
            name=self.name or where,
            action=self.action,
            source=label_matcher(f"{where}.match.source", self.match.source),
            service=label_matcher(f"{where}.match.service", self.match.service),
            labels=tuple(
                (name, m)
                for name, spec in self.match.labels.items()
                if (m := label_matcher(f"{where}.match.labels.{name}", spec)) is not None
            ),
            set_service=self.service,
            set_severity=self.severity,
            runbook=self.runbook,
        )


class AlertsConfig(BaseModel):
    """How alerts become incidents: routes (first match wins), the default, grouping."""

    model_config = ConfigDict(extra="forbid")

    routes: list[RouteConfig] = Field(default_factory=list)
    default: RouteConfig = Field(default_factory=lambda: RouteConfig(name="default", action=Action.DECLARE))
    group_window: timedelta = timedelta(hours=4)
    triage_channel: str = "incidents"
    alerts_message_interval: timedelta = timedelta(seconds=5)
    _compiled: list[Route] = PrivateAttr(default_factory=list)
    _default: Route | None = PrivateAttr(default=None)

    @field_validator("group_window", "alerts_message_interval", mode="before")
    @classmethod
    def _duration(cls, value: str | int | float | timedelta) -> timedelta:
        return value if isinstance(value, timedelta) else parse_duration(value)

    @model_validator(mode="after")
    def _compile(self) -> AlertsConfig:
        self._compiled = [r.compile(f"alerts.routes.{i}") for i, r in enumerate(self.routes)]
        self._default = self.default.compile("alerts.default")
        return self

    @property
    def compiled_routes(self) -> list[Route]:
        return self._compiled

    @property
    def default_route(self) -> Route:
        assert self._default is not None
        return self._default


class PagerDutyService(BaseModel):
    """How a warroom service maps to PagerDuty."""

    model_config = ConfigDict(extra="forbid")

    escalation_policy: str | None = None  # whose on-call people join the incident
    routing_key: str | None = None  # Events API v2 integration key used by `page SERVICE`


class PagerDutyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    services: dict[str, PagerDutyService] = Field(default_factory=dict)


class AccessConfig(BaseModel):
    """Who may declare, and who may resolve, close or change the severity of an incident."""

    model_config = ConfigDict(extra="forbid")

    declarers: str | None = None  # a Slack user group id (S...): only its members may declare
    responders: str | None = None  # a user group whose members may change any incident
    admins: list[str] = Field(default_factory=list)  # Slack user ids (U...) allowed everything

    @field_validator("declarers", "responders")
    @classmethod
    def _group_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"S[A-Z0-9]+", value):
            raise ValueError(f"{value!r} is not a Slack user group id (like S0123ABCD)")
        return value

    @field_validator("admins")
    @classmethod
    def _user_ids(cls, value: list[str]) -> list[str]:
        for user in value:
            if not re.fullmatch(r"[UW][A-Z0-9]+", user):
                raise ValueError(f"{user!r} is not a Slack user id (like U0123ABCD)")
        return value

    @property
    def restricted(self) -> bool:
        """Changes are limited once responders or admins are named."""
        return self.responders is not None or bool(self.admins)


class ApiConfig(BaseModel):
    """/api: who may read without a token, and how hard a token or sender may push."""

    model_config = ConfigDict(extra="forbid")

    public_read: bool = False  # true: /api reads of public incidents need no token
    rate_limit: int = Field(default=600, ge=1)  # requests a minute per token (or per address without one)
    docs: bool = False  # /docs, /redoc and /openapi.json; off unless asked for (they describe everything)


class ThrottleConfig(BaseModel):
    """Generous limits that only a runaway script or an attacker reaches."""

    model_config = ConfigDict(extra="forbid")

    declares_per_user: int = Field(default=10, ge=1)  # incidents one person may declare...
    declare_window: timedelta = timedelta(minutes=1)  # ...in this long
    # Webhook deliveries a minute from one sender address: far above a storm (bench/ reaches
    # 400 deliveries a second), low enough that one sender cannot take the server.
    webhook_deliveries: int = Field(default=60_000, ge=1)

    @field_validator("declare_window", mode="before")
    @classmethod
    def _duration(cls, value: str | int | float | timedelta) -> timedelta:
        return value if isinstance(value, timedelta) else parse_duration(value)


class WarroomConfig(BaseModel):
    """What an operator may configure in warroom.yaml; every key has a built-in default."""

    model_config = ConfigDict(extra="forbid")

    severities: list[SeverityConfig] = Field(default_factory=lambda: list(DEFAULT_SEVERITIES))
    default_severity: str = "SEV3"
    roles: list[RoleConfig] = Field(default_factory=lambda: list(DEFAULT_ROLES))
    channel_prefix: str = "inc"
    announcement_channel: str = "incidents"
    slash_command: str = "/incident"
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    pagerduty: PagerDutyConfig = Field(default_factory=PagerDutyConfig)
    timezone: str = "UTC"  # how times are shown in post-mortems and reports (stored in UTC)
    postmortem_template: str | None = None  # a Markdown jinja2 template replacing the built-in one
    access: AccessConfig = Field(default_factory=AccessConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    limits: ThrottleConfig = Field(default_factory=ThrottleConfig)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use a name like Europe/Berlin)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("channel_prefix")
    @classmethod
    def _prefix_shape(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,20}", value):
            raise ValueError("must be 1-21 characters of a-z, 0-9, - and _")
        return value

    @field_validator("slash_command")
    @classmethod
    def _command_shape(cls, value: str) -> str:
        if not re.fullmatch(r"/[a-z0-9_-]{1,31}", value):
            raise ValueError("must be a slash followed by up to 31 of a-z, 0-9, - and _")
        return value

    @field_validator("announcement_channel")
    @classmethod
    def _strip_hash(cls, value: str) -> str:
        value = value.lstrip("#").strip()
        if not value:
            raise ValueError("must name a channel")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> WarroomConfig:
        names = [s.name for s in self.severities]
        if not names:
            raise ValueError("severities: at least one severity is needed")
        if len(set(names)) != len(names):
            raise ValueError("severities: names must be unique")
        if self.default_severity not in names:
            raise ValueError(f"default_severity: {self.default_severity!r} is not one of {', '.join(names)}")
        roles = [r.name for r in self.roles]
        if len(set(roles)) != len(roles):
            raise ValueError("roles: names must be unique")
        if "commander" not in roles:
            raise ValueError("roles: the commander role is required")
        for where, rule in [("alerts.default", self.alerts.default)] + [
            (f"alerts.routes.{i}", r) for i, r in enumerate(self.alerts.routes)
        ]:
            if rule.severity is not None and rule.severity not in names:
                raise ValueError(f"{where}.severity: {rule.severity!r} is not one of {', '.join(names)}")
        return self

    @property
    def severity_names(self) -> list[str]:
        return [s.name for s in self.severities]

    @property
    def role_names(self) -> list[str]:
        return [r.name for r in self.roles]

    def severity(self, name: str) -> SeverityConfig:
        return next(s for s in self.severities if s.name == name)


def load_config(path: str | Path | None) -> WarroomConfig:
    """Load warroom.yaml; `None` or a missing default file means built-in defaults.

    Raises ConfigError naming the file, the key and the problem.
    """
    if not path:
        default = Path("warroom.yaml")
        if not default.exists():
            return WarroomConfig()
        path = default
    path = Path(path)
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    try:
        return WarroomConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            # Whole-file checks already name their key in the message.
            problems.append(f"{path}: {key}: {message}" if key else f"{path}: {message}")
        raise ConfigError("\n".join(problems)) from None
