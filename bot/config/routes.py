"""warroom.yaml `alerts`: routes (first match wins), the default, grouping."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from bot.config.base import parse_duration
from bot.domain.alerts import Action, LabelMatch, Route

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
