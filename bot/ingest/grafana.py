"""Grafana unified alerting webhook: Alertmanager's shape plus title, state, message, orgId."""

from __future__ import annotations

from datetime import datetime

from bot.domain.alerts import Alert
from bot.ingest import PayloadError, alertmanager


def parse(body: bytes, *, now: datetime) -> list[Alert]:
    return alertmanager.parse(body, source="grafana", now=now)


def parse_batch(body: bytes, *, now: datetime) -> tuple[list[Alert], list[PayloadError]]:
    return alertmanager.parse_batch(body, source="grafana", now=now)
