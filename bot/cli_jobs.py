"""`warroom jobs list|retry`: the job queue, Slack and PagerDuty work waiting or failed."""

from __future__ import annotations

import json
from typing import Any

import typer

app = typer.Typer(help="The job queue: Slack and PagerDuty work waiting or failed.", no_args_is_help=True)


@app.command("list")
def jobs_list(
    failed: bool = typer.Option(False, "--failed", help="Only jobs that failed for good."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Jobs waiting to run (those waiting for a Slack budget with the time reserved for them)
    and jobs that failed for good, newest first."""
    from bot.cli import _database, _run
    from bot.store import jobs

    async def work() -> list[dict[str, Any]]:
        async with _database() as db:
            return [
                {
                    "id": job.id,
                    "kind": job.kind,
                    "incident": job.payload.get("incident"),
                    "state": "failed" if job.failed_at else "waiting" if job.waiting_for else "pending",
                    "priority": job.priority,
                    "attempts": job.attempts,
                    "run_at": job.run_at.isoformat(),  # a waiting job's reserved time
                    "waiting_for": job.waiting_for,
                    "last_error": job.last_error,
                }
                for job in await jobs.unfinished(db, failed_only=failed)
            ]

    rows = _run(work)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("No failed jobs." if failed else "No jobs waiting or failed.")
    for row in rows:
        incident = f"#{row['incident']}" if row["incident"] is not None else "-"
        note = (row["last_error"] or "")[:80]
        if row["waiting_for"]:
            note = f"waits for {row['waiting_for']} until {row['run_at'][11:23]} (its reserved turn)"
        typer.echo(
            f"{row['id']:<7} {row['state']:<8} {row['kind']:<24} {incident:<7} "
            f"attempts {row['attempts']:<3} {row['run_at'][:19]}  {note}"
        )


@app.command("retry")
def jobs_retry(
    ids: list[int] = typer.Argument(None, help="Job ids (see `warroom jobs list --failed`)."),
    all_failed: bool = typer.Option(False, "--all-failed", help="Every job that failed for good."),
) -> None:
    """Give jobs that failed for good one more attempt (the worker runs them at once)."""
    from bot.cli import _database, _fail, _run
    from bot.store import jobs

    if bool(ids) == all_failed:
        _fail("name the job ids to retry, or pass --all-failed")

    async def work() -> list[int]:
        async with _database() as db:
            return await jobs.retry_failed(db, None if all_failed else ids)

    retried = _run(work)
    missing = sorted(set(ids or []) - set(retried))
    if retried:
        typer.echo(f"retrying {len(retried)} job(s): {', '.join(map(str, retried))}")
    else:
        typer.echo("no failed jobs to retry")
    if missing:
        _fail(f"not failed (or no such job): {', '.join(map(str, missing))}")
