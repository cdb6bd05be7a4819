"""warroom.yaml `changes`: how far back an incident looks for suspects, which environments
count, and when the deploy gate is closed.

```yaml
changes:
  lookback: 2h
  environments: [production]      # [] for every environment
  freeze_on: [SEV1, SEV2]
  freeze_windows:
    - {name: black-friday, start: 2026-11-27T00:00:00Z, end: 2026-11-30T00:00:00Z}
    - {name: friday-evening, days: [fri], from: "16:00", to: "23:59", services: [checkout]}
```
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.config.base import parse_duration
from bot.domain.changes import WEEKDAYS, FreezeWindow


class FreezeWindowConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=60)
    services: list[str] = Field(default_factory=list)  # empty: every service
    start: datetime | None = None
    end: datetime | None = None
    days: list[str] = Field(default_factory=list)  # mon..sun, in `timezone`
    opens: time | None = Field(default=None, alias="from")
    closes: time | None = Field(default=None, alias="to")

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @field_validator("opens", "closes", mode="before")
    @classmethod
    def _clock(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted 16:00 as the sexagesimal number 960 (minutes).
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            return time(value // 60, value % 60)
        return value

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: list[str]) -> list[str]:
        days = [d.strip().lower()[:3] for d in value]
        unknown = [d for d in days if d not in WEEKDAYS]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a day (mon, tue, wed, thu, fri, sat, sun)")
        return days

    @model_validator(mode="after")
    def _one_kind(self) -> FreezeWindowConfig:
        once = self.start is not None or self.end is not None
        weekly = bool(self.days) or self.opens is not None or self.closes is not None
        if once == weekly:
            raise ValueError("a freeze window has either start and end, or days, from and to")
        if once and (self.start is None or self.end is None or self.end <= self.start):
            raise ValueError("a freeze window needs a start and a later end")
        if weekly and (not self.days or self.opens is None or self.closes is None):
            raise ValueError("a weekly freeze window needs days, from and to")
        return self

    def window(self) -> FreezeWindow:
        return FreezeWindow(
            name=self.name,
            services=frozenset(self.services),
            start=self.start,
            end=self.end,
            days=frozenset(WEEKDAYS.index(d) for d in self.days),
            opens=self.opens,
            closes=self.closes,
        )


class ChangesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lookback: timedelta = timedelta(hours=2)  # how far before an incident's start its suspects go
    environments: list[str] = Field(default_factory=lambda: ["production"])
    freeze_on: list[str] = Field(default_factory=lambda: ["SEV1", "SEV2"])
    freeze_windows: list[FreezeWindowConfig] = Field(default_factory=list)

    @field_validator("lookback", mode="before")
    @classmethod
    def _duration(cls, value: str | int | float | timedelta) -> timedelta:
        return value if isinstance(value, timedelta) else parse_duration(value)

    def counts(self, environment: str) -> bool:
        """Whether changes to `environment` are suspects, gated and counted."""
        return not self.environments or environment in self.environments

    def windows(self) -> list[FreezeWindow]:
        return [w.window() for w in self.freeze_windows]
