"""A throwaway database for runtime tests: created fresh from a test's own tables, dropped afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa

from shop_runtime.database import Database, create_engine
from shop_runtime.migrations import create_database_if_missing
from shop_runtime.settings import ServiceSettings
from tests.support import infra


@asynccontextmanager
async def probe_database(settings: ServiceSettings, metadata: sa.MetaData) -> AsyncIterator[Database]:
    """``metadata`` holds the messaging tables (``add_messaging_tables``) and whatever else the test needs."""
    await infra.drop_database(settings.database_url)
    await create_database_if_missing(settings.database_url)
    database = Database(
        create_engine(settings), outbox=metadata.tables["outbox"], inbox=metadata.tables["inbox"]
    )
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()
        await infra.drop_database(settings.database_url)
