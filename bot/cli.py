"""The `warroom` command."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import typer

from bot import cli_changes, cli_jobs, cli_status, cli_tokens
from bot.config import ConfigError, Settings, load_config, parse_duration
from bot.documents.mrkdwn import plain
from bot.domain.incident import MILESTONES, DomainError
from bot.domain.people import mentioned
from bot.observability import configure_logging

if TYPE_CHECKING:
    from bot.services.bundle import Services
    from bot.store.db import Database

app = typer.Typer(help="warroom: incident response in Slack.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
incident_app = typer.Typer(
    help="Incidents, straight from the database (works while Slack is down).", no_args_is_help=True
)
runbooks_app = typer.Typer(help="Runbooks in RUNBOOKS_DIR.", no_args_is_help=True)
report_app = typer.Typer(help="Reports on how incidents were handled.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(incident_app, name="incident")
app.add_typer(runbooks_app, name="runbooks")
app.add_typer(report_app, name="report")
app.add_typer(cli_jobs.app, name="jobs")
app.add_typer(cli_tokens.app, name="token")
app.add_typer(cli_changes.change_app, name="change")
app.add_typer(cli_changes.freeze_app, name="freeze")
report_app.command("dora")(cli_changes.report_dora)
report_app.command("availability")(cli_status.report_availability)
app.add_typer(cli_status.status_app, name="status")


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _run(work: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    try:
        return asyncio.run(work())
    except (ConfigError, DomainError) as exc:
        _fail(str(exc))


@asynccontextmanager
async def _database(db: Database | None = None) -> AsyncIterator[Database]:
    """The configured database (or `db`), migrated first and closed afterwards."""
    from bot.store.db import Database

    db = db or Database(Settings().database_url)
    try:
        await db.migrate()
        yield db
    finally:
        await db.dispose()


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Interface to listen on; default $HOST or 127.0.0.1."),
    port: int | None = typer.Option(None, help="Port; default $PORT or 3000."),
    worker: bool = typer.Option(True, help="Run the job worker in this process (see `warroom worker`)."),
) -> None:
    """Run the HTTP server (Slack events, webhooks, API) and, unless --no-worker, the job worker."""
    from bot.app import build_app
    from bot.web import server

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        settings.require_slack()
        application = build_app(settings, run_worker=worker)
    except ConfigError as exc:
        _fail(str(exc))
    server.run(
        application,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        header_timeout=settings.request_timeout,
    )


@app.command()
def worker() -> None:
    """Run only the job worker (pair it with `warroom serve --no-worker`)."""
    from bot.app import build

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)

    async def work() -> None:
        warroom = build(settings, run_worker=False)
        await warroom.db.migrate()
        await warroom.open_connections()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await warroom.run_worker()
        except asyncio.CancelledError:
            pass
        finally:
            await warroom.close()

    _run(work)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations and exit."""

    async def work() -> None:
        async with _database():
            pass

    _run(work)
    typer.echo("database is up to date")


@db_app.command("prune")
def db_prune(
    older_than: str = typer.Option("30d", help="Keep what is younger than this (30d, 12h)."),
) -> None:
    """Delete finished jobs and the ids of processed deliveries older than --older-than."""
    from bot.store import jobs
    from bot.store.tables import utcnow

    try:
        age = parse_duration(older_than)
    except ValueError as exc:
        _fail(f"--older-than: {exc}")

    async def work() -> dict[str, int]:
        async with _database() as db:
            return await jobs.prune(db, utcnow() - age)

    deleted = _run(work)
    typer.echo(f"deleted {deleted['jobs']} finished jobs and {deleted['deliveries']} delivery ids")


def _emit(text: str, out: str | None, what: str) -> None:
    """A document to the file `out`, or to standard output."""
    from pathlib import Path

    if out:
        Path(out).write_text(text, encoding="utf-8")
        typer.echo(f"{what} written to {out}")
    else:
        typer.echo(text, nl=False)


def _services() -> tuple[Services, Database]:
    """The use cases as `serve` builds them (bot/app.py), without Slack: what the operator's
    commands run on. Their work for Slack waits in the job queue for a running `serve`."""
    from bot.services.bundle import build_services
    from bot.store.db import Database

    settings = Settings()
    config = load_config(settings.warroom_config or None)
    db = Database(settings.database_url)
    return build_services(settings, config, db), db


@app.command()
def postmortem(
    number: int = typer.Argument(..., help="Incident number."),
    review: bool = typer.Option(False, "--review", help="Put the newest draft in review."),
    publish: bool = typer.Option(False, "--publish", help="Publish it (it must be in review)."),
    owner: str | None = typer.Option(None, "--owner", help="Make this Slack user (UXXXX) its owner."),
) -> None:
    """Write a new post-mortem draft to POSTMORTEM_DIR (uploaded to Slack by `serve`), or move
    it along: --review, --publish, --owner UXXXX."""
    from bot.domain.people import is_user_id

    if sum((review, publish, owner is not None)) > 1:
        _fail("choose one of --review, --publish and --owner")
    if owner is not None and not is_user_id(owner):
        _fail(f"--owner: {owner!r} is not a Slack user id (like U0123ABCD)")

    async def work() -> Any:
        services, db = _services()
        async with _database(db):
            if review:
                return await services.reviews.review(number, "cli")
            if publish:
                return await services.reviews.publish(number, "cli")
            if owner is not None:
                return await services.reviews.set_owner(number, owner, "cli")
            return await services.postmortems.generate(number, "cli")

    result = _run(work)
    if isinstance(result, tuple):
        draft, paths = result
        typer.echo(f"Post-mortem draft v{draft.version} of #{number}:")
        for path in paths:
            typer.echo(f"  {path}")
        return
    due = f", due {result.postmortem_due_at:%Y-%m-%d %H:%M} UTC" if result.postmortem_due_at else ""
    state = (result.postmortem_state or "").replace("_", " ")
    typer.echo(f"Post-mortem of #{number}: {state}, owner {result.postmortem_owner or 'nobody'}{due}")


@report_app.command("mttr")
def report_mttr(
    since: str = typer.Option(
        "90d", help="Incidents whose impact started in this period (30d, 12h), or `all`."
    ),
    by: str | None = typer.Option(None, help="Group by severity, service, month or week."),
    fmt: str = typer.Option("md", "--format", help="md, html (with a chart), csv or json."),
    out: str | None = typer.Option(None, help="Write to this file instead of printing."),
) -> None:
    """Time to detect, acknowledge, mitigate and resolve: count, mean, p50, p90 and max."""

    from bot.documents import reports as report_docs
    from bot.domain.metrics import GROUPINGS, check_period
    from bot.services.reports import ReportService

    try:
        period = check_period(None if since == "all" else parse_duration(since))
    except ValueError as exc:
        _fail(f"--since: {exc}, or all")
    if by is not None and by not in GROUPINGS:
        _fail(f"--by: choose one of {', '.join(GROUPINGS)}")
    if fmt not in report_docs.FORMATS:
        _fail(f"--format: choose one of {', '.join(report_docs.FORMATS)}")

    async def work() -> str:
        settings = Settings()
        config = load_config(settings.warroom_config or None)
        async with _database() as db:
            report = await ReportService(db, config.zone).mttr(period, by, include_private=True)
        return report_docs.render(report, period, fmt)

    _emit(_run(work), out, "MTTR report")


@runbooks_app.command("validate")
def runbooks_validate(
    directory: str | None = typer.Argument(
        None, help="Directory of runbook YAML files; default $RUNBOOKS_DIR."
    ),
) -> None:
    """Check every runbook: schema (with file and line), template variables, step ids, roles,
    actions (their hosts against actions.allowed_hosts; secrets not set here are warnings)."""
    from pathlib import Path

    from bot.runbook_files import load_directory

    settings = Settings()
    try:
        config = load_config(settings.warroom_config or None)
    except ConfigError as exc:
        _fail(str(exc))
    path = Path(directory or settings.runbooks_dir)
    loaded = load_directory(
        path,
        roles=config.role_names,
        severities=config.severity_names,
        policy=config.actions.policy,
        environ=os.environ,
    )
    for problem in loaded.problems:
        typer.secho(str(problem), fg=typer.colors.RED, err=True)
    for warning in loaded.warnings:
        typer.secho(str(warning), fg=typer.colors.YELLOW, err=True)
    if loaded.problems:
        raise typer.Exit(1)
    if not loaded.files:
        _fail(f"{path}: no runbooks (*.yaml, *.yml) found")
    for file in loaded.files:
        runbook = file.runbook
        typer.echo(f"ok  {file.path}: {runbook.name} ({len(runbook.steps)} steps, version {runbook.version})")


@incident_app.command("list")
def incident_list(
    all_: bool = typer.Option(False, "--all", help="Include closed incidents."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List incidents (open ones unless --all)."""
    from bot.api import incident_out

    async def work() -> list[dict[str, Any]]:
        services, db = _services()
        async with _database(db):
            incidents = await services.queries.list_incidents(open_only=not all_, limit=1000)
            roles = await services.queries.named_roles([i.number for i in incidents if i.number is not None])
            return [incident_out(i, roles.get(i.number or 0, {})).model_dump(mode="json") for i in incidents]

    rows = _run(work)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("No incidents.")
    for row in rows:
        commander = row["role_names"].get("commander", "-")
        typer.echo(
            f"#{row['number']:<5} {row['severity']:<5} {row['status']:<13} {commander:<24} {row['title']}"
        )


@incident_app.command("show")
def incident_show(number: int, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show one incident with its roles, milestones and timeline."""
    from bot.api import incident_out

    async def work() -> dict[str, Any]:
        services, db = _services()
        async with _database(db):
            incident = await services.queries.get(number)
            data = incident_out(incident, (await services.queries.named_roles([number]))[number]).model_dump(
                mode="json"
            )
            events = await services.queries.timeline(number)
            names = await services.people.names(
                [e.actor for e in events] + [u for e in events for u in mentioned(e.text)]
            )
            data["timeline"] = [
                {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "text": e.text}
                | {"who": names.name(e.actor), "plain": plain(e.text, names)}
                for e in events
            ]
            return data

    data = _run(work)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"#{data['number']} {data['title']}")
    typer.echo(
        f"  severity {data['severity']}, status {data['status']}, channel {data['channel_id'] or '(not yet)'}"
    )
    for role, name in data["role_names"].items():
        typer.echo(f"  {role}: {name}")
    for name in MILESTONES:
        typer.echo(f"  {name:<16} {data[name] or '-'}")
    typer.echo("timeline:")
    for event in data["timeline"]:
        typer.echo(f"  {event['at']}  {event['kind']:<9} {event['who']}: {event['plain']}")


@incident_app.command("declare")
def incident_declare(
    title: str,
    severity: str | None = typer.Option(None, "--sev", help="SEV1..SEV4; default from the config."),
    commander: str | None = typer.Option(None, help="Slack user id of the commander."),
    reporter: str = typer.Option("cli", help="Who declares it (a Slack user id, or a name)."),
    private: bool = typer.Option(False, "--private", help="A private channel; hidden from non-members."),
    service: str | None = typer.Option(None, help="The service it hits (its changes are listed)."),
) -> None:
    """Declare an incident from the shell; `warroom serve` opens its Slack channel."""

    async def work() -> Any:
        services, db = _services()
        async with _database(db):
            return await services.incidents.declare(
                title=title,
                severity=severity,
                reporter=reporter,
                commander=commander,
                private=private,
                service=service,
            )

    incident = _run(work)
    typer.echo(f"Declared #{incident.number} {incident.severity}: {incident.title}")


@app.command()
def demo() -> None:
    """One incident from declare to close against the built-in Slack simulator."""
    from bot.demo import run_demo

    sys.exit(asyncio.run(run_demo()))


def main() -> None:
    app()
