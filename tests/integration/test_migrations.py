"""The Alembic migrations create exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import bot.store.tables  # noqa: F401
from bot.store.db import Database


async def test_models_and_migrations_agree(db: Database) -> None:
    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection)  # type: ignore[arg-type]
        return list(compare_metadata(context, SQLModel.metadata))

    async with db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    # UTCDateTime is a TypeDecorator over DateTime(timezone=True): the same column type.
    real = [d for d in differences if not (isinstance(d, list) and d and d[0][0] == "modify_type")]
    assert real == []


async def test_migrate_is_idempotent(db: Database) -> None:
    await db.migrate()
    await db.migrate()
