"""Change events in: warroom's JSON (`POST /webhooks/changes`, `warroom change record`) and
GitHub's `deployment_status` event. Pure: bytes or a dict in, a `Change` out, or a
`PayloadError` naming the field at fault.

warroom's JSON:
{
  "id": "deploy-8812",                          required: a status of the same id updates it
  "service": "checkout",                        required
  "summary": "checkout v2.14.0",                required
  "kind": "deploy",                             deploy (default), config, flag, migration, infra, other
  "status": "succeeded",                        started, succeeded (default), failed, rolled_back
  "environment": "production",                  default production
  "version": "v2.14.0", "previous_version": "v2.13.2", "author": "alice@example.com",
  "url": "https://ci.example.com/runs/8812",    optional; an http(s) URL
  "started_at": "2026-11-21T09:50:00Z",         default: finished_at, or when received
  "finished_at": "2026-11-21T09:55:00Z"         default: when received, once it ended
}
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.changes import CHANGE_KINDS, CHANGE_STATUSES, Change, ChangeKind, ChangeStatus
from bot.ingest import PayloadError, bounded_key, clamp, field, load_json, load_value, timestamp

MAX_ID, MAX_SERVICE, MAX_ENVIRONMENT, MAX_SUMMARY, MAX_VERSION, MAX_AUTHOR, MAX_URL = (
    200,
    100,
    60,
    300,
    100,
    200,
    500,
)

# GitHub's deployment states; `inactive` (a deployment replaced by a newer one) says nothing new.
GITHUB_STATES = {
    "queued": ChangeStatus.STARTED,
    "pending": ChangeStatus.STARTED,
    "in_progress": ChangeStatus.STARTED,
    "success": ChangeStatus.SUCCEEDED,
    "failure": ChangeStatus.FAILED,
    "error": ChangeStatus.FAILED,
}


MAX_BATCH = 500  # changes in one delivery


def parse(body: bytes, *, now: datetime, source: str = "webhook") -> Change:
    return from_dict(load_json(body), now=now, source=source)


def parse_batch(body: bytes, *, now: datetime) -> list[Change] | Change:
    """One change (a JSON object), or a batch of them (an array of up to 500 objects); a
    bad element is named by its index (`[3].service`) and the whole delivery refused."""
    items = load_value(body)
    if isinstance(items, dict):
        return from_dict(items, now=now)
    if not isinstance(items, list) or not items or len(items) > MAX_BATCH:
        raise PayloadError("(body)", f"a batch holds 1 to {MAX_BATCH} changes")
    changes = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise PayloadError(f"[{i}]", "expected a JSON object")
        try:
            changes.append(from_dict(item, now=now))
        except PayloadError as exc:
            raise PayloadError(f"[{i}].{exc.field}", exc.message) from None
    return changes


def from_dict(data: dict[str, Any], *, now: datetime, source: str = "webhook") -> Change:
    change_id = _text(data, "id", MAX_ID)
    service = _text(data, "service", MAX_SERVICE)
    summary = _text(data, "summary", MAX_SUMMARY)
    kind = _choice(data, "kind", CHANGE_KINDS, ChangeKind.DEPLOY)
    status = _choice(data, "status", CHANGE_STATUSES, ChangeStatus.SUCCEEDED)
    url = _optional(data, "url", MAX_URL)
    if url and not url.startswith(("https://", "http://")):
        raise PayloadError("url", "expected an http(s) URL")
    finished = timestamp(data.get("finished_at"), "finished_at")
    if finished is None and status != ChangeStatus.STARTED:
        finished = now
    started = timestamp(data.get("started_at"), "started_at") or finished or now
    if finished is not None and finished < started:
        raise PayloadError("finished_at", "is before started_at")
    return Change(
        id=bounded_key(change_id, MAX_ID),
        service=service,
        environment=_optional(data, "environment", MAX_ENVIRONMENT) or "production",
        kind=kind,
        status=status,
        summary=summary,
        started_at=clamp(started, now),
        finished_at=clamp(finished, now) if finished else None,
        version=_optional(data, "version", MAX_VERSION),
        previous_version=_optional(data, "previous_version", MAX_VERSION),
        author=_optional(data, "author", MAX_AUTHOR),
        url=url,
        source=source,
    )


def from_github(event: dict[str, Any], *, now: datetime) -> Change | None:
    """A `deployment_status` event as a change of the repository's service (the deployment's
    `payload.service` when it names one); None for a state that says nothing (inactive)."""
    status_ = event.get("deployment_status")
    deployment = event.get("deployment")
    if not isinstance(status_, dict) or not isinstance(deployment, dict):
        raise PayloadError(
            "deployment_status", "a deployment_status event needs deployment_status and deployment"
        )
    state = GITHUB_STATES.get(str(status_.get("state")))
    if state is None:
        return None
    if "id" not in deployment:
        raise PayloadError("deployment.id", "is required")
    repository = _object(event, "repository")
    payload = _object(deployment, "payload")
    service = str(payload.get("service") or repository.get("name") or "").strip()
    if not service:
        raise PayloadError("repository.name", "is required (or deployment.payload.service)")
    ref = str(deployment.get("ref") or "")
    sha = str(deployment.get("sha") or "")
    version = ref if ref and ref not in ("main", "master") else sha[:7] or None
    creator = _object(deployment, "creator")
    url = next(
        (u for u in (status_.get("log_url"), status_.get("target_url"), status_.get("environment_url")) if u),
        None,
    )
    description = str(deployment.get("description") or "").strip()
    started = timestamp(deployment.get("created_at"), "deployment.created_at") or now
    finished = None
    if state != ChangeStatus.STARTED:
        finished = timestamp(status_.get("created_at"), "deployment_status.created_at") or now
    return from_dict(
        {
            "id": f"github-deployment-{deployment['id']}",
            "service": service,
            "environment": status_.get("environment") or deployment.get("environment") or "production",
            "kind": ChangeKind.DEPLOY.value,
            "status": state.value,
            "summary": description or f"{repository.get('full_name') or service} {version or ''}".strip(),
            "version": version,
            "author": creator.get("login"),
            "url": url if isinstance(url, str) and url.startswith(("https://", "http://")) else None,
            "started_at": started.isoformat(),
            "finished_at": finished.isoformat() if finished else None,
        },
        now=now,
        source="github",
    )


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = str(field(data, key, (str, int), "")).strip()
    if not value:
        raise PayloadError(key, "must not be empty")
    if len(value) > limit:
        raise PayloadError(key, f"at most {limit} characters")
    return value


def _optional(data: dict[str, Any], key: str, limit: int) -> str | None:
    value = field(data, key, str, "", required=False)
    if value is None or not value.strip():
        return None
    if len(value.strip()) > limit:
        raise PayloadError(key, f"at most {limit} characters")
    return str(value.strip())


def _choice(data: dict[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = field(data, key, str, "", required=False)
    if value is None:
        return default
    if value not in allowed:
        raise PayloadError(key, f"expected one of {', '.join(allowed)}, got {value[:40]!r}")
    return str(value)
