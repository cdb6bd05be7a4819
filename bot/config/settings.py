"""Settings: the environment (and .env). Nothing else in warroom reads the environment: the
composition root builds `Settings` once and hands what each part needs down to it."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config.base import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///./warroom.db"
    # PostgreSQL connections a process keeps (it may open 10 more at a peak): replicas together
    # must stay under the server's max_connections (100 by default).
    database_pool_size: int = Field(default=30, ge=2, le=500)
    warroom_config: str = ""
    runbooks_dir: str = "./runbooks"
    postmortem_dir: str = "./postmortems"
    pagerduty_api_token: str = ""
    pagerduty_api_url: str = "https://api.pagerduty.com"
    pagerduty_events_url: str = "https://events.pagerduty.com"
    pagerduty_routing_key: str = ""
    pagerduty_webhook_secret: str = ""
    alert_webhook_token: str = ""
    # GitHub Issues as the follow-up tracker (warroom.yaml followups.tracker: github).
    github_token: str = ""
    github_api_url: str = "https://api.github.com"
    github_webhook_secret: str = ""  # verifies /webhooks/github (X-Hub-Signature-256)
    # Jira Cloud as the follow-up tracker (followups.tracker: jira): the site, an account's
    # email and API token (Basic auth), and the webhook's secret (/webhooks/jira).
    jira_url: str = ""
    jira_email: str = ""
    jira_api_token: str = ""
    jira_webhook_secret: str = ""
    # Linear as the follow-up tracker (followups.tracker: linear).
    linear_api_key: str = ""
    linear_api_url: str = "https://api.linear.app/graphql"
    linear_webhook_secret: str = ""  # verifies /webhooks/linear (Linear-Signature)
    status_page_dir: str = ""  # the status page is also written here as static files
    statuspage_api_key: str = ""  # Atlassian Statuspage: incidents made there too
    statuspage_page_id: str = ""
    statuspage_api_url: str = "https://api.statuspage.io/v1"
    port: int = 3000
    log_level: str = "info"
    # The part of Slack's rate limits warroom may spend: every replica together on PostgreSQL
    # (their budget is shared), this process on SQLite. Lower it only when another app spends
    # the same workspace's limits.
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
