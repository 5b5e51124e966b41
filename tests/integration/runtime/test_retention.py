"""Message retention against the real PostgreSQL: what is past retention goes, in batches; the rest stays."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from shop_runtime.database import Database
from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.retention import MessageRetention, Pruned
from shop_runtime.settings import ServiceSettings
from tests.integration.runtime.probe import probe_database
from tests.support import infra

pytestmark = pytest.mark.integration

metadata = sa.MetaData()
outbox, inbox = add_messaging_tables(metadata)


class Settings(ServiceSettings):
    service_name = "retention_probe"
    database_url: str = infra.database_url("retention_probe")
    http_port: int = 0


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    async with probe_database(Settings(), metadata) as database:
        yield database


def outbox_row(label: str, *, created: datetime, published: datetime | None) -> dict[str, object]:
    return {
        "message_id": uuid.uuid4(),
        "message_type": label,
        "exchange": "shop.events",
        "routing_key": label,
        "body": b"{}",
        "headers": {},
        "created_at": created,
        "published_at": published,
    }


async def test_published_outbox_rows_and_inbox_claims_past_retention_are_deleted(database: Database) -> None:
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=8), now - timedelta(days=6)
    async with database.engine.begin() as connection:
        await connection.execute(
            sa.insert(outbox),
            [outbox_row(f"old-{index}", created=old, published=old) for index in range(25)]
            + [
                outbox_row("recent", created=recent, published=recent),
                # never published: the relay still owes it, however old it is
                outbox_row("unpublished", created=old, published=None),
            ],
        )
        await connection.execute(
            sa.insert(inbox),
            [
                {"consumer": "probe", "message_id": uuid.uuid4(), "message_type": "old", "processed_at": old}
                for _ in range(12)
            ]
            + [
                {
                    "consumer": "probe",
                    "message_id": uuid.uuid4(),
                    "message_type": "recent",
                    "processed_at": recent,
                }
            ],
        )
    retention = MessageRetention(database, retention=timedelta(days=7), batch_size=10, interval_seconds=60)

    assert await retention.prune() == Pruned(outbox=25, inbox=12)

    async with database.engine.connect() as connection:
        kept_outbox = (await connection.execute(sa.select(outbox.c.message_type))).scalars().all()
        kept_inbox = (await connection.execute(sa.select(inbox.c.message_type))).scalars().all()
    assert sorted(kept_outbox) == ["recent", "unpublished"]
    assert kept_inbox == ["recent"]
    assert await retention.prune() == Pruned(outbox=0, inbox=0)
