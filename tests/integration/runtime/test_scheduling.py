"""The durable schedule against the real PostgreSQL: due jobs run once, even with two schedulers; failures retry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from shop_runtime.clock import SystemClock
from shop_runtime.database import Database, UnitOfWork
from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.scheduling import Scheduler, add_schedule_table, cancel, reschedule, schedule
from shop_runtime.settings import ServiceSettings
from tests.integration.runtime.probe import probe_database
from tests.support import infra

pytestmark = pytest.mark.integration

metadata = sa.MetaData()
outbox, inbox = add_messaging_tables(metadata)
jobs_table = add_schedule_table(metadata)
effects = sa.Table(
    "job_effects",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("key", sa.Text),
)


class Settings(ServiceSettings):
    service_name = "schedule_probe"
    database_url: str = infra.database_url("schedule_probe")
    http_port: int = 0


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    async with probe_database(Settings(), metadata) as database:
        yield database


async def record(payload: dict[str, Any], uow: UnitOfWork) -> None:
    await uow.session.execute(sa.insert(effects).values(key=payload["key"]))
    await uow.commit()


async def add_jobs(database: Database, count: int, *, due_in: timedelta, kind: str = "record") -> None:
    async with database.unit_of_work() as uow:
        for index in range(count):
            await schedule(
                uow.session,
                jobs_table,
                kind=kind,
                key=f"{kind}-{index}",
                due_at=datetime.now(UTC) + due_in,
                payload={"key": f"{kind}-{index}"},
            )
        # Scheduling the same key again is a no-op.
        await schedule(
            uow.session,
            jobs_table,
            kind=kind,
            key=f"{kind}-0",
            due_at=datetime.now(UTC),
            payload={"key": "again"},
        )
        await uow.commit()


async def effect_keys(database: Database) -> list[str]:
    async with database.engine.connect() as connection:
        return list((await connection.execute(sa.select(effects.c.key).order_by(effects.c.key))).scalars())


async def test_two_schedulers_run_every_due_job_exactly_once_and_leave_future_jobs(
    database: Database,
) -> None:
    await add_jobs(database, 40, due_in=-timedelta(seconds=1))
    await add_jobs(database, 3, due_in=timedelta(hours=1), kind="later")
    schedulers = [
        Scheduler(
            database,
            jobs_table,
            {"record": record, "later": record},
            clock=SystemClock(),
            poll_seconds=0.05,
            batch_size=5,
        )
        for _ in range(2)
    ]
    ran = await asyncio.gather(*(scheduler.run_due() for scheduler in schedulers))
    while sum(ran) < 40:
        ran.append(await schedulers[0].run_due())
    assert await effect_keys(database) == sorted(f"record-{index}" for index in range(40))


async def test_a_failing_job_is_retried_later_with_its_error_recorded(database: Database) -> None:
    await add_jobs(database, 1, due_in=-timedelta(seconds=1), kind="flaky")

    async def fail(payload: dict[str, Any], uow: UnitOfWork) -> None:
        raise RuntimeError("the PSP is down")

    scheduler = Scheduler(database, jobs_table, {"flaky": fail}, clock=SystemClock(), poll_seconds=0.05)
    assert await scheduler.run_due() == 1
    async with database.engine.connect() as connection:
        job = (await connection.execute(sa.select(jobs_table))).one()
    assert job.done_at is None
    assert job.attempts == 1
    assert "the PSP is down" in job.last_error
    assert job.due_at > datetime.now(UTC)
    assert await scheduler.run_due() == 0  # not due again yet


async def test_rescheduling_moves_a_waiting_job_adds_a_missing_one_and_leaves_finished_ones(
    database: Database,
) -> None:
    now = datetime.now(UTC)
    later, sooner = now + timedelta(days=3), now + timedelta(hours=1)
    async with database.unit_of_work() as uow:
        for key in ("waiting", "cancelled"):
            await schedule(
                uow.session, jobs_table, kind="record", key=key, due_at=later, payload={"key": key}
            )
        await cancel(uow.session, jobs_table, key="cancelled", now=now)
        for key in ("waiting", "cancelled", "new"):
            await reschedule(
                uow.session, jobs_table, kind="record", key=key, due_at=sooner, payload={"key": key}
            )
        await uow.commit()
    async with database.engine.connect() as connection:
        rows = {
            row.key: (row.due_at, row.cancelled)
            for row in await connection.execute(
                sa.select(jobs_table.c.key, jobs_table.c.due_at, jobs_table.c.cancelled)
            )
        }
    assert rows == {"waiting": (sooner, False), "cancelled": (later, True), "new": (sooner, False)}
