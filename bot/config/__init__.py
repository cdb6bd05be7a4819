"""Settings (environment and .env) and the validated YAML configuration (warroom.yaml)."""

from bot.config.base import ConfigError, parse_duration
from bot.config.routes import AlertsConfig, Matcher, RouteConfig, RouteMatch, label_matcher
from bot.config.settings import Settings
from bot.config.warroom import (
    DEFAULT_ROLES,
    DEFAULT_SEVERITIES,
    AccessConfig,
    ApiConfig,
    PagerDutyConfig,
    PagerDutyService,
    RoleConfig,
    SeverityConfig,
    ThrottleConfig,
    WarroomConfig,
    load_config,
)

__all__ = [
    "DEFAULT_ROLES",
    "DEFAULT_SEVERITIES",
    "AccessConfig",
    "AlertsConfig",
    "ApiConfig",
    "ConfigError",
    "Matcher",
    "PagerDutyConfig",
    "PagerDutyService",
    "RoleConfig",
    "RouteConfig",
    "RouteMatch",
    "Settings",
    "SeverityConfig",
    "ThrottleConfig",
    "WarroomConfig",
    "label_matcher",
    "load_config",
    "parse_duration",
]
