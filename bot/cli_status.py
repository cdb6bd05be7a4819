"""`warroom report availability` (bot/domain/availability.py has the definitions) and
`warroom status export` (writes the status page's static copy now)."""

from __future__ import annotations

import typer

from bot.config import load_config, parse_duration

status_app = typer.Typer(help="The status page.", no_args_is_help=True)


def report_availability(
    since: str = typer.Option("30d", help="The period that ends now (30d, 90d, 12h)."),
    fmt: str = typer.Option("md", "--format", help="md, html (with a chart), csv or json."),
    out: str | None = typer.Option(None, help="Write to this file instead of printing."),
) -> None:
    """Per status page component: downtime by state, availability, the target and the error budget left."""
    from bot.cli import _database, _emit, _fail, _run
    from bot.config import Settings
    from bot.documents import availability as documents
    from bot.domain.metrics import check_period
    from bot.services.status_page import AvailabilityReads

    try:
        period = check_period(parse_duration(since))
    except ValueError as exc:
        _fail(f"--since: {exc}")
    if fmt not in documents.FORMATS:
        _fail(f"--format: choose one of {', '.join(documents.FORMATS)}")
    assert period is not None

    async def work() -> str:
        config = load_config(Settings().warroom_config or None)
        async with _database() as db:
            report = await AvailabilityReads(db, config).report(period)
        return documents.render(report, fmt)

    _emit(_run(work), out, "Availability report")


@status_app.command("export")
def export() -> None:
    """Write the status page to STATUS_PAGE_DIR now (serve does after every change)."""
    from bot.cli import _database, _fail, _run
    from bot.config import Settings
    from bot.integrations.static_page import StaticPage
    from bot.services.status_page import StatusPageReads

    settings = Settings()
    if not settings.status_page_dir:
        _fail("STATUS_PAGE_DIR is not set: nowhere to write the status page")

    async def work() -> None:
        config = load_config(settings.warroom_config or None)
        async with _database() as db:
            await StaticPage(StatusPageReads(db, config), settings.status_page_dir, config).export({})

    _run(work)
    typer.echo(f"Status page written to {settings.status_page_dir}")
