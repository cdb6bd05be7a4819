"""warroom watching itself: Prometheus metrics, and JSON log lines that carry the request id
and the incident number of whatever the process is working on."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.domain.budget import family

# What the current request or job is about; read by every log line it writes.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
incident: ContextVar[int | None] = ContextVar("incident", default=None)

ACK_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)  # Slack gives up at 3 s
ROUTES = ("/slack/events", "/healthz", "/readyz", "/metrics")


class Sourced(Protocol):
    @property
    def source(self) -> str: ...


class Metrics:
    """One registry per app (tests build many apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "warroom_http_requests", "HTTP requests answered", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "warroom_http_request_seconds", "Time to answer an HTTP request", ["route"], registry=r
        )
        self.ack = Histogram(
            "warroom_slack_ack_seconds",
            "Time to answer Slack (commands, clicks, events)",
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.job_runs = Counter(
            "warroom_job_runs",
            "Job runs by outcome: done, retried, failed (for good), waited (its turn for a budget)",
            ["kind", "outcome"],
            registry=r,
        )
        self.alerts = Counter(
            "warroom_alerts_ingested", "Alerts received from webhooks", ["source"], registry=r
        )
        # Read from the database at each scrape: true for every replica, not just this one.
        self.jobs_pending = Gauge(
            "warroom_jobs_pending", "Jobs waiting to run (due or scheduled)", registry=r
        )
        self.jobs_failed = Gauge("warroom_jobs_failed", "Jobs that failed for good", registry=r)
        self.incidents_open = Gauge("warroom_incidents_open", "Incidents not resolved yet", registry=r)
        self.jobs_waiting = Gauge(
            "warroom_jobs_waiting",
            "Jobs released until their reserved turn, by what they wait for",
            ["budget"],
            registry=r,
        )
        self.waiting_seconds = Gauge(
            "warroom_jobs_waiting_seconds",
            "Seconds until the last reserved turn: how far behind the budget's pace work is",
            ["budget"],
            registry=r,
        )

    def waiting(self, rows: Sequence[tuple[str, int, datetime]], now: datetime) -> None:
        """The waiting jobs as the database holds them: only what waits now has a sample."""
        self.jobs_waiting.clear()
        self.waiting_seconds.clear()
        latest: dict[str, datetime] = {}
        for key, count, last in rows:
            name = family(key)
            self.jobs_waiting.labels(name).inc(count)
            latest[name] = max(latest.get(name, last), last)
        for name, last in latest.items():
            self.waiting_seconds.labels(name).set(max(0.0, (last - now).total_seconds()))

    def job_finished(self, kind: str, outcome: str) -> None:
        self.job_runs.labels(kind, outcome).inc()

    def alerts_ingested(self, alerts: Iterable[Sourced]) -> None:
        for alert in alerts:
            self.alerts.labels(alert.source).inc()


def route_of(path: str) -> str:
    """A label with few values: the fixed routes, each webhook, and the API as one."""
    if path in ROUTES or (path.startswith("/webhooks/") and path.count("/") == 2):
        return path
    if path.startswith("/api/"):
        return "/api"
    return "other"


class Observe:
    """ASGI middleware: a request id for every request (the caller's X-Request-Id, or a new
    one, echoed in the answer), and its count and latency."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")[:64]
        rid = given if given.isprintable() and given else uuid.uuid4().hex[:16]
        request_id.set(rid)
        incident.set(None)
        route, began, status = route_of(scope["path"]), time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - began
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            if route == "/slack/events":
                self.metrics.ack.observe(elapsed)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the request id and
    incident number when there are any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (rid := request_id.get()) is not None:
            entry["request_id"] = rid
        if (number := incident.get()) is not None:
            entry["incident"] = number
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
