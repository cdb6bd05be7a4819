"""Alembic environment: runs on the connection handed over by Database.migrate()."""

from alembic import context
from sqlmodel import SQLModel

# Registers the tables on SQLModel.metadata.
import bot.store.tables
import bot.store.work_tables  # noqa: F401

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
