"""warroom.yaml: severities, roles, channels, PagerDuty, access, the API and limits; validated
at start, a problem named by file, key and what is wrong."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.config.actions import ActionsConfig
from bot.config.base import ConfigError, parse_duration
from bot.config.changes import ChangesConfig
from bot.config.documents import FollowupsConfig, PostmortemConfig, ReportsConfig
from bot.config.routes import AlertsConfig
from bot.config.status import StatusPageConfig
from bot.domain.people import is_user_id


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
            if not is_user_id(user):
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
    postmortem: PostmortemConfig = Field(default_factory=PostmortemConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    followups: FollowupsConfig = Field(default_factory=FollowupsConfig)
    changes: ChangesConfig = Field(default_factory=ChangesConfig)
    actions: ActionsConfig = Field(default_factory=ActionsConfig)
    # The channels (names or ids) each severity's updates go to: {SEV1: [leadership, support]}.
    stakeholders: dict[str, list[str]] = Field(default_factory=dict)
    status_page: StatusPageConfig = Field(default_factory=StatusPageConfig)

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
        for severity, channels in self.stakeholders.items():
            if severity not in names:
                raise ValueError(f"stakeholders: {severity!r} is not one of {', '.join(names)}")
            for channel in channels:
                if not re.fullmatch(r"#?[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{6,}", channel):
                    raise ValueError(f"stakeholders.{severity}: {channel!r} is not a channel name or id")
        for severity in self.changes.freeze_on:
            if severity not in names:
                raise ValueError(f"changes.freeze_on: {severity!r} is not one of {', '.join(names)}")
        return self

    @property
    def severity_names(self) -> list[str]:
        return [s.name for s in self.severities]

    @property
    def role_names(self) -> list[str]:
        return [r.name for r in self.roles]

    def stakeholder_channels(self, severity: str) -> list[str]:
        return [c.lstrip("#") for c in self.stakeholders.get(severity, [])]

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
