"""Alerts: webhook deliveries into incidents (service.py), the SQL they run (statements.py),
and rows to and from the domain (records.py)."""

from bot.services.alerts.records import AlertsSummary, IngestResult
from bot.services.alerts.service import AlertService

__all__ = ["AlertService", "AlertsSummary", "IngestResult"]
