"""warroom.yaml for the audience beyond the channel: `stakeholders` (the channels an update
of each severity goes to) and `status_page` (its title and components)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.availability import ComponentSpec


class ComponentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    description: str | None = Field(default=None, max_length=200)
    services: list[str] = Field(default_factory=list)  # warroom services whose incidents impair it
    slo: float | None = Field(default=None, gt=0, lt=100)  # availability target in percent (99.9)
    statuspage_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,40}$")  # Atlassian Statuspage

    @property
    def spec(self) -> ComponentSpec:
        return ComponentSpec(self.name, frozenset(self.services), self.slo)


class StatusPageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="Status", max_length=80)
    url: str | None = None  # where the page is published (the Atom feed's links); relative if unset
    components: list[ComponentConfig] = Field(default_factory=list)
    past_days: int = Field(default=14, ge=1, le=90)  # resolved incidents /status lists

    @field_validator("url")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError("must be an absolute http(s) URL, like https://status.example.com/")
        return value.rstrip("/") + "/" if value else None

    @model_validator(mode="after")
    def _unique(self) -> StatusPageConfig:
        names = [c.name for c in self.components]
        if len(set(names)) != len(names):
            raise ValueError("components: names must be unique")
        return self

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.components]

    @property
    def specs(self) -> list[ComponentSpec]:
        return [c.spec for c in self.components]

    def covering(self, service: str | None) -> list[str]:
        """The components an incident of this service impairs (what the update form ticks)."""
        return [c.name for c in self.components if service and service in c.services]
