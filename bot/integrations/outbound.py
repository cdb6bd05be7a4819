"""Which outbound services the environment and warroom.yaml switch on: the follow-up
tracker (followups.tracker) and Atlassian Statuspage; None where nothing is configured."""

from __future__ import annotations

from bot.config import ConfigError, Settings, WarroomConfig
from bot.integrations.github import GitHubTracker
from bot.integrations.jira import JiraTracker
from bot.integrations.linear import LinearTracker
from bot.integrations.statuspage import Statuspage
from bot.integrations.trackers import Tracker


def tracker_of(settings: Settings, config: WarroomConfig) -> Tracker | None:
    """The follow-up tracker warroom.yaml names (followups.tracker), or None."""
    github = config.followups.github
    if config.followups.tracker == "github" and github is not None:
        if not settings.github_token:
            raise ConfigError("followups.tracker is github: set GITHUB_TOKEN")
        return GitHubTracker(
            settings.github_token, github.repo, github.labels, api_url=settings.github_api_url
        )
    jira = config.followups.jira
    if config.followups.tracker == "jira" and jira is not None:
        if not (settings.jira_url and settings.jira_email and settings.jira_api_token):
            raise ConfigError("followups.tracker is jira: set JIRA_URL, JIRA_EMAIL and JIRA_API_TOKEN")
        return JiraTracker(
            settings.jira_url, settings.jira_email, settings.jira_api_token, jira.project, jira.issue_type
        )
    linear = config.followups.linear
    if config.followups.tracker == "linear" and linear is not None:
        if not settings.linear_api_key:
            raise ConfigError("followups.tracker is linear: set LINEAR_API_KEY")
        return LinearTracker(settings.linear_api_key, linear.team, api_url=settings.linear_api_url)
    return None


def statuspage_of(settings: Settings) -> Statuspage | None:
    """Atlassian Statuspage, when its key and page are set."""
    if not (settings.statuspage_api_key and settings.statuspage_page_id):
        return None
    return Statuspage(
        settings.statuspage_api_key,
        settings.statuspage_page_id,
        api_url=settings.statuspage_api_url,
    )
