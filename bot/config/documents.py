"""warroom.yaml for what comes after an incident: `postmortem` (when it is due), `followups`
(when they are due, and the tracker they go to) and `reports` (the scheduled MTTR report)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.config.base import parse_duration


def _days(value: str | int | float | timedelta) -> timedelta:
    return value if isinstance(value, timedelta) else parse_duration(value)


class PostmortemConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Days from closing to publishing, per severity; `default` for the rest. Drills have none.
    due_after: dict[str, timedelta] = Field(
        default_factory=lambda: {
            "SEV1": timedelta(days=5),
            "SEV2": timedelta(days=5),
            "default": timedelta(days=10),
        }
    )
    remind_before: timedelta = timedelta(days=1)  # the owner's first reminder, before the due date

    @field_validator("due_after", mode="before")
    @classmethod
    def _due_after(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        return {str(k): _days(v) for k, v in value.items()}

    @field_validator("remind_before", mode="before")
    @classmethod
    def _remind_before(cls, value: str | int | float | timedelta) -> timedelta:
        return _days(value)

    def due(self, severity: str) -> timedelta:
        return self.due_after.get(severity) or self.due_after.get("default") or timedelta(days=10)


class GitHubTrackerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")  # owner/name
    labels: list[str] = Field(default_factory=lambda: ["incident-followup"], min_length=1)


class JiraTrackerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,9}$")  # the project key: OPS
    issue_type: str = Field(default="Task", min_length=1, max_length=60)


class LinearTrackerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: str = Field(pattern=r"^[A-Z0-9]{1,7}$")  # the team's key: OPS


class FollowupsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tracker: Literal["none", "github", "jira", "linear"] = "none"
    github: GitHubTrackerConfig | None = None
    jira: JiraTrackerConfig | None = None
    linear: LinearTrackerConfig | None = None
    digest: Literal["weekly", "off"] = "weekly"  # overdue follow-ups, to the announcement channel
    quiet_weekends: bool = False  # true: no follow-up reminders on Saturdays and Sundays (`timezone`)
    # From creation to done, per severity of the incident; `default` for the rest.
    due_after: dict[str, timedelta] = Field(
        default_factory=lambda: {
            "SEV1": timedelta(days=14),
            "SEV2": timedelta(days=30),
            "default": timedelta(days=60),
        }
    )

    @model_validator(mode="after")
    def _tracker_settings(self) -> FollowupsConfig:
        if self.tracker == "github" and self.github is None:
            raise ValueError("tracker github needs followups.github.repo (owner/name)")
        if self.tracker == "jira" and self.jira is None:
            raise ValueError("tracker jira needs followups.jira.project (its key, like OPS)")
        if self.tracker == "linear" and self.linear is None:
            raise ValueError("tracker linear needs followups.linear.team (its key, like OPS)")
        return self

    @field_validator("due_after", mode="before")
    @classmethod
    def _due_after(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        return {str(k): _days(v) for k, v in value.items()}

    def due(self, severity: str) -> timedelta:
        return self.due_after.get(severity) or self.due_after.get("default") or timedelta(days=60)


class ReportsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: Literal["daily", "weekly", "monthly", "off"] = "weekly"
    channel: str | None = None  # where it is posted; the announcement channel when absent
