"""Grafana unified alerting webhook: Alertmanager's shape plus title, state, message, orgId."""

from __future__ import annotations

from datetime import datetime

from bot.domain.alerts import Alert
from bot.ingest import alertmanager


def parse(body: bytes, *, now: datetime) -> list[Alert]:
    return alertmanager.parse(body, source="grafana", now=now)
