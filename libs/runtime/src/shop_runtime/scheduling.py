"""A service's durable schedule: commands due at a time (charges, reminders, expiries), run by the worker.

Each kind of job is a ``Job``: a typed command named as an order, stored as the job's payload. Jobs live in
the service's own table and are claimed with ``FOR UPDATE SKIP LOCKED``, one per transaction, so several
workers can run the schedule side by side and a job runs once: it is marked done in the same transaction as
its handler's effects, and the scheduler is that transaction's edge (it commits; handlers never do). A job
whose handler fails is tried again later, each wait twice the last (30 s, 1 min, 2 min, ... at most an
hour), with its error recorded; after ``max_attempts`` it is parked, like a message, with its error: it
stays in the table, is never run again by itself, and ``shop-ops jobs`` lists it and can run it again. A
payload that no longer parses, or a kind nobody handles, is parked at once. Due times are compared with the
service's clock, so tests move them with the clock.

A handler schedules, moves and cancels jobs through its unit of work's ``jobs`` (``ScheduledJobs``), so they
take effect with the rest of its transaction; its tests give it a schedule in memory instead of the table.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_runtime.clock import Clock
from shop_runtime.metrics import JOBS_PARKED

log = logging.getLogger(__name__)


class Job(BaseModel):
    """A scheduled command, named as an order (``ChargeScheduledBalance``), with typed fields.

    ``KIND`` and the fields are what the table stores: jobs already waiting are read with the class as it is
    when they run, so add fields with defaults and never rename ``KIND`` or a field.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    KIND: ClassVar[str]


JobHandler = Callable[[Any, Any], Awaitable[None]]
"""``(job, uow)``: does the job's work in the given unit of work; the scheduler commits it."""

Jobs = Mapping[type[Job], JobHandler]
"""A service's scheduled jobs: the handler of each kind of job."""

RETRY_AFTER = timedelta(seconds=30)
"""The wait before a failed job's first retry; each later wait is twice the last, up to ``LONGEST_WAIT``."""
LONGEST_WAIT = timedelta(hours=1)
MAX_ATTEMPTS = 8
"""Attempts before a failing job is parked (30 s + 1 + 2 + 4 + 8 + 16 + 32 min: about an hour of trying)."""


def retry_wait(attempts: int) -> timedelta:
    """How long a job that has failed ``attempts`` times waits before its next attempt."""
    wait: timedelta = RETRY_AFTER * 2 ** max(attempts - 1, 0)
    return min(wait, LONGEST_WAIT)


def add_schedule_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "scheduled_jobs",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column(
            "key", sa.Text, nullable=False, unique=True, comment="Scheduling the same key twice is a no-op"
        ),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", postgresql.JSONB, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("cancelled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column(
            "parked_at",
            sa.DateTime(timezone=True),
            comment="Set when the job was given up on (its last attempt failed, or it cannot be read); done_at too",
        ),
        sa.Index("scheduled_jobs_due", "due_at", postgresql_where=sa.text("done_at IS NULL")),
    )


# Each statement is built once per table, with bound parameters: SQLAlchemy then neither builds it nor walks it for
# its cache key on every job (a tenth of a stock hold's CPU when each call built its own).


@functools.cache
def _schedule_statement(table: sa.Table) -> Any:
    return (
        insert(table)
        .values(
            kind=sa.bindparam("job_kind", type_=table.c.kind.type),
            key=sa.bindparam("job_key", type_=table.c.key.type),
            due_at=sa.bindparam("job_due_at", type_=table.c.due_at.type),
            payload=sa.bindparam("job_payload", type_=table.c.payload.type),
        )
        .on_conflict_do_nothing()
    )


@functools.cache
def _reschedule_statement(table: sa.Table) -> Any:
    statement = insert(table).values(
        kind=sa.bindparam("job_kind", type_=table.c.kind.type),
        key=sa.bindparam("job_key", type_=table.c.key.type),
        due_at=sa.bindparam("job_due_at", type_=table.c.due_at.type),
        payload=sa.bindparam("job_payload", type_=table.c.payload.type),
    )
    return statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"due_at": statement.excluded.due_at, "payload": statement.excluded.payload},
        where=table.c.done_at.is_(None),
    )


@functools.cache
def _cancel_statement(table: sa.Table) -> Any:
    return (
        sa.update(table)
        .where(table.c.key == sa.bindparam("job_key", type_=table.c.key.type), table.c.done_at.is_(None))
        .values(done_at=sa.bindparam("job_now", type_=table.c.done_at.type), cancelled=True)
    )


def _job_parameters(job: Job, *, key: str, due_at: datetime) -> dict[str, Any]:
    return {
        "job_kind": job.KIND,
        "job_key": key,
        "job_due_at": due_at,
        "job_payload": job.model_dump(mode="json"),
    }


async def schedule(session: AsyncSession, table: sa.Table, job: Job, *, key: str, due_at: datetime) -> None:
    """Add ``job`` in the caller's transaction; a job with the same key already scheduled stays as it is."""
    await session.execute(_schedule_statement(table), _job_parameters(job, key=key, due_at=due_at))


async def reschedule(session: AsyncSession, table: sa.Table, job: Job, *, key: str, due_at: datetime) -> None:
    """Move a job that has not run yet to ``due_at`` (adding it when there is none); a job that already ran
    or was cancelled stays as it is."""
    await session.execute(_reschedule_statement(table), _job_parameters(job, key=key, due_at=due_at))


async def cancel(session: AsyncSession, table: sa.Table, *, key: str, now: datetime) -> None:
    """Cancel a job that has not run yet (it stays in the table, marked cancelled)."""
    await session.execute(_cancel_statement(table), {"job_key": key, "job_now": now})


class ScheduledJobs(Protocol):
    """A service's schedule as a handler uses it, in its unit of work (``uow.jobs``): what it schedules, moves
    or cancels takes effect when that commits. ``SqlScheduledJobs`` keeps the jobs in the service's table;
    handler tests give a schedule in memory."""

    async def schedule(self, job: Job, *, key: str, due_at: datetime) -> None:
        """Run ``job`` at ``due_at``; when a job with this key was scheduled already, it stays as it is."""

    async def reschedule(self, job: Job, *, key: str, due_at: datetime) -> None:
        """Move the job with this key to ``due_at`` if it has not run yet (add it when there is none); a job
        that already ran or was cancelled stays as it is."""

    async def cancel(self, *, key: str, now: datetime) -> None:
        """Cancel the job with this key if it has not run yet; nothing happens when there is none."""


class SqlScheduledJobs:
    """The schedule in the service's ``scheduled_jobs`` table, written in the unit of work's transaction."""

    def __init__(self, session: AsyncSession, table: sa.Table) -> None:
        self._session = session
        self._table = table

    async def schedule(self, job: Job, *, key: str, due_at: datetime) -> None:
        await schedule(self._session, self._table, job, key=key, due_at=due_at)

    async def reschedule(self, job: Job, *, key: str, due_at: datetime) -> None:
        await reschedule(self._session, self._table, job, key=key, due_at=due_at)

    async def cancel(self, *, key: str, now: datetime) -> None:
        await cancel(self._session, self._table, key=key, now=now)


class Scheduler:
    def __init__(
        self,
        database: Any,
        table: sa.Table,
        jobs: Jobs,
        *,
        clock: Clock,
        poll_seconds: float,
        batch_size: int = 50,
        max_attempts: int = MAX_ATTEMPTS,
        service: str = "",
    ) -> None:
        self._database = database
        self._table = table
        self._jobs = {job_class.KIND: (job_class, handler) for job_class, handler in jobs.items()}
        self._clock = clock
        self._max_attempts = max_attempts
        self._service = service
        for kind in self._jobs:  # exported from zero, so an alert sees the first one parked
            JOBS_PARKED.labels(service, kind)
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                ran = await self.run_due()
            except Exception:
                log.exception("the scheduler failed; trying again")
                ran = 0
            if ran < self._batch_size:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self._poll_seconds)
                except TimeoutError:
                    pass

    async def run_due(self) -> int:
        """Run jobs that are due, one transaction each; return how many were claimed."""
        claimed = 0
        while claimed < self._batch_size:
            now = self._clock.now()
            async with self._database.unit_of_work() as uow:
                job = (
                    await uow.session.execute(
                        sa.select(self._table)
                        .where(self._table.c.done_at.is_(None), self._table.c.due_at <= now)
                        .order_by(self._table.c.due_at, self._table.c.id)
                        .limit(1)
                        .with_for_update(skip_locked=True)
                    )
                ).first()
                if job is None:
                    return claimed
                claimed += 1
                await uow.session.execute(
                    sa.update(self._table)
                    .where(self._table.c.id == job.id)
                    .values(done_at=now, attempts=job.attempts + 1)
                )
                try:
                    job_class, handler = self._jobs[job.kind]
                    command = job_class.model_validate(job.payload)
                except (KeyError, ValidationError) as error:
                    # Trying again cannot help: park it now, with why.
                    await self._park(uow, job, f"cannot run this job: {type(error).__name__}: {error}", now)
                    await uow.commit()
                    continue
                try:
                    await handler(command, uow)
                    await uow.commit()
                    continue
                except Exception as error:
                    failure = f"{type(error).__name__}: {error}"
            await self._record_failure(job, failure, now)
        return claimed

    async def _record_failure(self, job: Any, error: str, now: datetime) -> None:
        """The attempt that just failed rolled back: count it, and try again later or, the last one, park."""
        attempts = job.attempts + 1
        async with self._database.unit_of_work() as uow:
            if attempts >= self._max_attempts:
                await self._park(uow, job, error, now, attempts=attempts)
            else:
                log.warning(
                    "scheduled job %s (%s) failed (attempt %d of %d), trying again later: %s",
                    job.key,
                    job.kind,
                    attempts,
                    self._max_attempts,
                    error,
                )
                await uow.session.execute(
                    sa.update(self._table)
                    .where(self._table.c.id == job.id)
                    .values(attempts=attempts, last_error=error[:2000], due_at=now + retry_wait(attempts))
                )
            await uow.commit()

    async def _park(
        self, uow: Any, job: Any, error: str, now: datetime, *, attempts: int | None = None
    ) -> None:
        log.error("scheduled job %s (%s) parked: %s", job.key, job.kind, error)
        values: dict[str, Any] = {"done_at": now, "parked_at": now, "last_error": error[:2000]}
        if attempts is not None:
            values["attempts"] = attempts
        await uow.session.execute(sa.update(self._table).where(self._table.c.id == job.id).values(**values))
        uow.after_commit(JOBS_PARKED.labels(self._service, job.kind).inc)


async def run_again(session: AsyncSession, table: sa.Table, *, key: str, now: datetime) -> bool:
    """Give a parked job a fresh set of attempts, due now; False when no parked job has this key."""
    result = await session.execute(
        sa.update(table)
        .where(table.c.key == key, table.c.parked_at.is_not(None))
        .values(parked_at=None, done_at=None, attempts=0, due_at=now)
        .returning(table.c.id)
    )
    return result.first() is not None
