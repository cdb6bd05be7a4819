"""`warroom token create|list|revoke`: the credentials of /api (bot/services/tokens.py)."""

from __future__ import annotations

import typer

from bot.config import parse_duration

app = typer.Typer(help="API tokens for /api (shown once, stored hashed).", no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Who uses it, e.g. grafana or deploy-bot (a-z 0-9 . _ -)."),
    scope: str = typer.Option("read", help="read (public incidents), write (also changes) or admin."),
    expires: str | None = typer.Option(None, help="Lifetime like 90d; default: until revoked."),
) -> None:
    """Print a new token once: keep it in your secret store, warroom keeps only its hash."""
    from bot.cli import _database, _fail, _run
    from bot.services.tokens import TokenService

    try:
        lifetime = parse_duration(expires) if expires else None
    except ValueError as exc:
        _fail(f"--expires: {exc}")

    async def work() -> str:
        async with _database() as db:
            return await TokenService(db).create(name, scope, lifetime)

    typer.echo(_run(work))


@app.command("list")
def list_tokens() -> None:
    """Every token: name, scope, the first characters, created, expires, revoked."""
    from bot.cli import _database, _run
    from bot.services.tokens import TokenService

    async def work() -> list[str]:
        async with _database() as db:
            rows = await TokenService(db).list()
        return [
            f"{t.name:<28} {t.scope:<6} {t.hint}...  created {t.created_at:%Y-%m-%d}  "
            + (f"expires {t.expires_at:%Y-%m-%d}" if t.expires_at else "no expiry")
            + (f"  REVOKED {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "")
            for t in rows
        ]

    lines = _run(work)
    typer.echo("\n".join(lines) if lines else "No tokens yet: `warroom token create NAME --scope read`.")


@app.command("revoke")
def revoke(name: str = typer.Argument(..., help="The token's name.")) -> None:
    """Stop a token working (within 10 s on every running server)."""
    from bot.cli import _database, _run
    from bot.services.tokens import TokenService

    async def work() -> None:
        async with _database() as db:
            await TokenService(db).revoke(name)

    _run(work)
    typer.echo(f"Revoked {name}.")
