"""The durable schedule against the real PostgreSQL: due jobs run once, even with two schedulers; a failing job is
tried again later, each wait twice the last, and parked after its last attempt; a parked job can run again."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from shop_runtime.clock import SystemClock
from shop_runtime.database import Database, UnitOfWork
from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.metrics import JOBS_PARKED
from shop_runtime.scheduling import (
    Job,
    Scheduler,
    add_schedule_table,
    cancel,
    reschedule,
    retry_wait,
    run_again,
    schedule,
)
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


class Record(Job):
    KIND = "record"
    key: str


class Later(Record):
    KIND = "later"


class Flaky(Record):
    KIND = "flaky"


async def record(job: Record, uow: UnitOfWork) -> None:
    await uow.session.execute(sa.insert(effects).values(key=job.key))


async def fail(job: Flaky, uow: UnitOfWork) -> None:
    await uow.session.execute(sa.insert(effects).values(key=job.key))  # rolled back with the failure
    raise RuntimeError("the PSP is down")


async def add_jobs(database: Database, count: int, *, due_in: timedelta, kind: type[Record] = Record) -> None:
    async with database.unit_of_work() as uow:
        for index in range(count):
            await schedule(
                uow.session,
                jobs_table,
                kind(key=f"{kind.KIND}-{index}"),
                key=f"{kind.KIND}-{index}",
                due_at=datetime.now(UTC) + due_in,
            )
        # Scheduling the same key again is a no-op.
        await schedule(
            uow.session, jobs_table, kind(key="again"), key=f"{kind.KIND}-0", due_at=datetime.now(UTC)
        )
        await uow.commit()


async def effect_keys(database: Database) -> list[str]:
    async with database.engine.connect() as connection:
        return list((await connection.execute(sa.select(effects.c.key).order_by(effects.c.key))).scalars())


async def test_two_schedulers_run_every_due_job_exactly_once_and_leave_future_jobs(
    database: Database,
) -> None:
    await add_jobs(database, 40, due_in=-timedelta(seconds=1))
    await add_jobs(database, 3, due_in=timedelta(hours=1), kind=Later)
    schedulers = [
        Scheduler(
            database,
            jobs_table,
            {Record: record, Later: record},
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
    await add_jobs(database, 1, due_in=-timedelta(seconds=1), kind=Flaky)
    scheduler = Scheduler(database, jobs_table, {Flaky: fail}, clock=SystemClock(), poll_seconds=0.05)
    before = datetime.now(UTC)
    assert await scheduler.run_due() == 1
    job = await the_job(database, "flaky-0")
    assert job.done_at is None
    assert job.parked_at is None
    assert job.attempts == 1
    assert "the PSP is down" in job.last_error
    assert job.due_at >= before + retry_wait(1)
    assert await scheduler.run_due() == 0  # not due again yet
    assert await effect_keys(database) == []  # the failed attempt's work rolled back


def test_each_wait_is_twice_the_last_up_to_an_hour() -> None:
    waits = [retry_wait(attempts) for attempts in range(1, 10)]
    assert waits[:3] == [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2)]
    assert waits[-1] == timedelta(hours=1)
    assert all(later >= earlier for earlier, later in itertools.pairwise(waits))


async def test_a_job_that_keeps_failing_is_parked_after_its_last_attempt_and_can_run_again(
    database: Database,
) -> None:
    await add_jobs(database, 1, due_in=-timedelta(seconds=1), kind=Flaky)
    failing = Scheduler(
        database,
        jobs_table,
        {Flaky: fail},
        clock=SystemClock(),
        poll_seconds=0.05,
        max_attempts=3,
        service="probe",
    )
    parked_before = JOBS_PARKED.labels("probe", Flaky.KIND)._value.get()
    for attempt in range(1, 4):
        await make_due(database, "flaky-0")
        assert await failing.run_due() == 1
        job = await the_job(database, "flaky-0")
        assert job.attempts == attempt
    assert job.parked_at is not None
    assert job.done_at is not None  # never run again by itself
    assert "the PSP is down" in job.last_error
    assert JOBS_PARKED.labels("probe", Flaky.KIND)._value.get() == parked_before + 1
    await make_due(database, "flaky-0")
    assert await failing.run_due() == 0

    async with database.unit_of_work() as uow:
        assert await run_again(uow.session, jobs_table, key="flaky-0", now=datetime.now(UTC))
        assert not await run_again(uow.session, jobs_table, key="no-such-job", now=datetime.now(UTC))
        await uow.commit()
    fixed = Scheduler(database, jobs_table, {Flaky: record}, clock=SystemClock(), poll_seconds=0.05)
    assert await fixed.run_due() == 1
    job = await the_job(database, "flaky-0")
    assert (job.parked_at, job.attempts) == (None, 1)
    assert job.done_at is not None
    assert await effect_keys(database) == ["flaky-0"]


async def test_a_job_that_cannot_be_read_or_has_no_handler_is_parked_at_once(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.session.execute(
            sa.insert(jobs_table).values(
                kind=Record.KIND, key="unreadable", due_at=datetime.now(UTC), payload={"not_key": 1}
            )
        )
        await schedule(uow.session, jobs_table, Later(key="orphan"), key="orphan", due_at=datetime.now(UTC))
        await uow.commit()
    scheduler = Scheduler(database, jobs_table, {Record: record}, clock=SystemClock(), poll_seconds=0.05)
    assert await scheduler.run_due() == 2
    unreadable, orphan = await the_job(database, "unreadable"), await the_job(database, "orphan")
    assert unreadable.parked_at is not None
    assert "ValidationError" in unreadable.last_error
    assert orphan.parked_at is not None
    assert "KeyError" in orphan.last_error
    assert await effect_keys(database) == []


async def the_job(database: Database, key: str) -> sa.Row[Any]:
    async with database.engine.connect() as connection:
        return (await connection.execute(sa.select(jobs_table).where(jobs_table.c.key == key))).one()


async def make_due(database: Database, key: str) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(
            sa.update(jobs_table)
            .where(jobs_table.c.key == key, jobs_table.c.done_at.is_(None))
            .values(due_at=datetime.now(UTC) - timedelta(seconds=1))
        )


async def test_rescheduling_moves_a_waiting_job_adds_a_missing_one_and_leaves_finished_ones(
    database: Database,
) -> None:
    now = datetime.now(UTC)
    later, sooner = now + timedelta(days=3), now + timedelta(hours=1)
    async with database.unit_of_work() as uow:
        for key in ("waiting", "cancelled"):
            await schedule(uow.session, jobs_table, Record(key=key), key=key, due_at=later)
        await cancel(uow.session, jobs_table, key="cancelled", now=now)
        for key in ("waiting", "cancelled", "new"):
            await reschedule(uow.session, jobs_table, Record(key=key), key=key, due_at=sooner)
        await uow.commit()
    async with database.engine.connect() as connection:
        rows = {
            row.key: (row.due_at, row.cancelled)
            for row in await connection.execute(
                sa.select(jobs_table.c.key, jobs_table.c.due_at, jobs_table.c.cancelled)
            )
        }
    assert rows == {"waiting": (sooner, False), "cancelled": (later, True), "new": (sooner, False)}
