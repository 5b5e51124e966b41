"""Scheduled jobs that were parked (their last attempt failed, or they cannot be read), and running one again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from shop_runtime import scheduling

JOB_SERVICES = ("catalog", "orders")
"""The services that keep a schedule."""

scheduled_jobs = scheduling.add_schedule_table(sa.MetaData())
"""Every service's schedule table has this shape (the runtime defines it)."""


@dataclass(frozen=True)
class ParkedJob:
    key: str
    kind: str
    attempts: int
    parked_at: datetime
    error: str


async def parked_jobs(connection: AsyncConnection) -> list[ParkedJob]:
    """The service's parked jobs, oldest first."""
    table = scheduled_jobs
    result = await connection.execute(
        sa.select(table.c.key, table.c.kind, table.c.attempts, table.c.parked_at, table.c.last_error)
        .where(table.c.parked_at.is_not(None))
        .order_by(table.c.parked_at, table.c.key)
    )
    return [
        ParkedJob(
            key=row.key,
            kind=row.kind,
            attempts=row.attempts,
            parked_at=row.parked_at,
            error=row.last_error or "",
        )
        for row in result
    ]


async def run_again(database_url: str, key: str, *, now: datetime) -> bool:
    """Give the parked job ``key`` a fresh set of attempts, due now; False when no parked job has that key."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with AsyncSession(engine) as session, session.begin():
            return await scheduling.run_again(session, scheduled_jobs, key=key, now=now)
    finally:
        await engine.dispose()
