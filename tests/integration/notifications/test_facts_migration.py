"""The migration to facts told once and in order, on a delivery log that already holds emails (duplicates too)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shop_notifications.bootstrap import DEFINITION
from shop_runtime.migrations import alembic_config, create_database_if_missing
from tests.support import infra

pytestmark = pytest.mark.integration

BEFORE = "0002_email_trace_context"
START = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    url = infra.service_settings(DEFINITION, suffix="_facts_migration").database_url
    await infra.drop_database(url)
    await create_database_if_missing(url)
    yield url
    await infra.drop_database(url)


async def _migrate(url: str, revision: str, *, down: bool = False) -> None:
    config = alembic_config(DEFINITION.migrations_path, url)
    await asyncio.to_thread(command.downgrade if down else command.upgrade, config, revision)


async def _log(
    engine: AsyncEngine, order_id: str, template: str, *, minutes: int, status: str = "sent"
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            sa.text(
                "INSERT INTO notifications (id, source_message_id, order_id, template, channel, locale, recipient,"
                " subject, body, status, created_at)"
                " VALUES (:id, :message, :order_id, :template, 'email', 'en', 'ann@example.com', 's', 'b', :status,"
                " :at)"
            ),
            {
                "id": uuid.uuid4(),
                "message": uuid.uuid4(),
                "order_id": order_id,
                "template": template,
                "status": status,
                "at": START + timedelta(minutes=minutes),
            },
        )


async def test_old_emails_are_numbered_as_created_and_keep_the_facts_they_can_name(database_url: str) -> None:
    await _migrate(database_url, BEFORE)
    engine = create_async_engine(database_url)
    try:
        # Logged out of creation order, with a confirmation that went out twice under two message ids.
        await _log(engine, "ord-a", "order_shipped", minutes=5)
        await _log(engine, "ord-a", "order_confirmed", minutes=1)
        await _log(engine, "ord-a", "order_confirmed", minutes=2)
        await _log(engine, "ord-b", "order_rejected", minutes=3, status="pending")

        await _migrate(database_url, "head")

        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.text(
                        "SELECT order_id, template, fact_key, status FROM notifications ORDER BY sequence_number"
                    )
                )
            ).all()
        assert [tuple(row) for row in rows] == [
            ("ord-a", "order_confirmed", "order:ord-a:confirmed", "sent"),
            ("ord-a", "order_confirmed", None, "sent"),
            ("ord-b", "order_rejected", "order:ord-b:rejected", "pending"),
            ("ord-a", "order_shipped", None, "sent"),
        ]
        await _log(engine, "ord-c", "order_delivered", minutes=0)  # numbered after every old row
        async with engine.connect() as connection:
            last = await connection.scalar(
                sa.text("SELECT order_id FROM notifications ORDER BY sequence_number DESC LIMIT 1")
            )
        assert last == "ord-c"

        await _migrate(database_url, BEFORE, down=True)
        async with engine.connect() as connection:
            assert await connection.scalar(sa.text("SELECT count(*) FROM notifications")) == 5
    finally:
        await engine.dispose()
