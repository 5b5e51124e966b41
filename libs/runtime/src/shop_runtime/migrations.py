"""Alembic for a service: create its database if missing and upgrade it; the shared body of every env.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from shop_runtime.settings import ServiceSettings


async def create_database_if_missing(database_url: str) -> None:
    url = make_url(database_url)
    name = url.database
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # another process created it first
    finally:
        await connection.close()


def alembic_config(migrations_path: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_path))
    config.attributes["database_url"] = database_url
    return config


def migrate(settings: ServiceSettings, migrations_path: Path) -> None:
    """Create the database if needed and upgrade it to the newest revision."""
    asyncio.run(create_database_if_missing(settings.database_url))
    command.upgrade(alembic_config(migrations_path, settings.database_url), "head")


def new_revision(settings: ServiceSettings, migrations_path: Path, *, message: str) -> None:
    """Autogenerate a migration from the difference between the tables and the migrated database."""
    migrate(settings, migrations_path)
    command.revision(
        alembic_config(migrations_path, settings.database_url), message=message, autogenerate=True
    )


def run_env(metadata: sa.MetaData) -> None:
    """Body of each service's ``migrations/env.py``: run the migrations online over the async driver."""
    database_url = context.config.attributes["database_url"]

    def run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run_online() -> None:
        engine = create_async_engine(database_url, poolclass=sa.pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(run)
        await engine.dispose()

    asyncio.run(run_online())
