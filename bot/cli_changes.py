"""`warroom change record` (for CI jobs), `warroom freeze check` (for pipelines: exit 0 go,
3 frozen) and `warroom report dora` (bot/domain/dora.py)."""

from __future__ import annotations

import uuid

import typer

from bot.config import load_config, parse_duration

change_app = typer.Typer(help="Changes (deploys, config pushes, flags) from CI jobs.", no_args_is_help=True)
freeze_app = typer.Typer(help="The deploy gate, for pipelines.", no_args_is_help=True)
FROZEN = 3  # the exit code of `freeze check` while deploys are frozen


@change_app.command("record")
def record(
    service: str = typer.Option(..., help="The service that changed."),
    summary: str = typer.Option(..., help="What changed, e.g. 'checkout v2.14.0'."),
    kind: str = typer.Option("deploy", help="deploy, config, flag, migration, infra or other."),
    status: str = typer.Option("succeeded", help="started, succeeded, failed or rolled_back."),
    version: str | None = typer.Option(None, help="The version it runs now."),
    url: str | None = typer.Option(None, help="A link to the CI run."),
    environment: str = typer.Option("production", help="Where it changed."),
    author: str | None = typer.Option(None, help="Who made it."),
    change_id: str | None = typer.Option(
        None, "--id", help="Its id (the CI run's); the same id with a later --status updates it."
    ),
) -> None:
    """Record a change, as POST /webhooks/changes does."""
    from bot.cli import _database as database
    from bot.cli import _fail, _run, _services
    from bot.ingest import PayloadError
    from bot.ingest.changes import from_dict
    from bot.store.tables import utcnow

    data = {
        "id": change_id or f"cli-{uuid.uuid4().hex[:12]}",
        "service": service,
        "summary": summary,
        "kind": kind,
        "status": status,
        "version": version,
        "url": url,
        "environment": environment,
        "author": author,
    }
    try:
        change = from_dict(data, now=utcnow(), source="cli")
    except PayloadError as exc:
        _fail(f"--{exc.field.replace('_', '-')}: {exc.message}")

    async def work() -> str:
        services, db = _services()
        async with database(db):
            recorded = await services.changes.record(change)
        if not recorded.new:
            return f"{change.id} ({change.status}) was recorded before; nothing changed."
        lines = [f"Recorded {change.id}: {change.label()} {change.status}."]
        if recorded.incidents:
            lines.append("On the timeline of " + ", ".join(f"#{n}" for n in recorded.incidents) + ".")
        if recorded.freeze.frozen:
            lines.append(f"Warning: deploys are frozen: {recorded.freeze.reason}")
        return "\n".join(lines)

    typer.echo(_run(work))


@freeze_app.command("check")
def check(service: str = typer.Option(..., help="The service about to deploy, or '*'.")) -> None:
    """Exit 0 when `service` may deploy; exit 3 with the reason while it is frozen."""
    from bot.cli import _database as database
    from bot.cli import _run, _services

    async def work() -> tuple[bool, str]:
        services, db = _services()
        async with database(db):
            gate = await services.changes.freeze(service)
        return gate.frozen, gate.reason or ""

    frozen, reason = _run(work)
    if frozen:
        typer.secho(f"FROZEN: {service}: {reason}", fg=typer.colors.RED, err=True)
        raise typer.Exit(FROZEN)
    typer.echo(f"go: {service} may deploy")


def report_dora(
    since: str = typer.Option("90d", help="Deployments that started in this period (30d, 12h)."),
    by: str | None = typer.Option(None, help="service, or leave it out for the overall figures."),
    fmt: str = typer.Option("md", "--format", help="md, html (with a chart), csv or json."),
    out: str | None = typer.Option(None, help="Write to this file instead of printing."),
) -> None:
    """Deployment frequency, change failure rate, failed deployment recovery time."""

    from bot.cli import _database, _emit, _fail, _run
    from bot.config import Settings
    from bot.documents import dora as dora_docs
    from bot.domain.metrics import check_period
    from bot.services.changes import ChangeService
    from bot.services.dora import DoraService
    from bot.services.timeline import Timeline

    try:
        period = check_period(parse_duration(since))
    except ValueError as exc:
        _fail(f"--since: {exc}")
    if by not in (None, "service"):
        _fail("--by: service, or leave it out")
    if fmt not in dora_docs.FORMATS:
        _fail(f"--format: choose one of {', '.join(dora_docs.FORMATS)}")
    assert period is not None

    async def work() -> str:
        settings = Settings()
        config = load_config(settings.warroom_config or None)
        async with _database() as db:
            dora = DoraService(ChangeService(Timeline(db), config), config.zone)
            report = await dora.report(period, by, include_private=True)
        return dora_docs.render(report, fmt)

    _emit(_run(work), out, "DORA report")
