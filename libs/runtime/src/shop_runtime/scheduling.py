"""A service's durable schedule: jobs due at a time (charges, reminders, expiries), run by the worker.

Jobs live in the service's own table and are claimed with ``FOR UPDATE SKIP LOCKED``, one per
transaction, so several workers can run the schedule side by side and a job runs once: it is marked done
in the same transaction as its handler's effects. A job whose handler fails is tried again later, with
its error recorded. Due times are compared with the service's clock, so tests move them with the clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_runtime.clock import Clock

log = logging.getLogger(__name__)

JobHandler = Callable[[dict[str, Any], Any], Awaitable[None]]
"""``(payload, uow)``: does the job's work in the given unit of work and commits it."""

RETRY_AFTER = timedelta(seconds=30)


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
        sa.Index("scheduled_jobs_due", "due_at", postgresql_where=sa.text("done_at IS NULL")),
    )


async def schedule(
    session: AsyncSession, table: sa.Table, *, kind: str, key: str, due_at: datetime, payload: dict[str, Any]
) -> None:
    """Add a job in the caller's transaction; a job with the same key already scheduled stays as it is."""
    await session.execute(
        insert(table).values(kind=kind, key=key, due_at=due_at, payload=payload).on_conflict_do_nothing()
    )


async def reschedule(
    session: AsyncSession, table: sa.Table, *, kind: str, key: str, due_at: datetime, payload: dict[str, Any]
) -> None:
    """Move a job that has not run yet to ``due_at`` (adding it when there is none); a job that already ran
    or was cancelled stays as it is."""
    statement = insert(table).values(kind=kind, key=key, due_at=due_at, payload=payload)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"due_at": due_at, "payload": payload},
            where=table.c.done_at.is_(None),
        )
    )


async def cancel(session: AsyncSession, table: sa.Table, *, key: str, now: datetime) -> None:
    """Cancel a job that has not run yet (it stays in the table, marked cancelled)."""
    await session.execute(
        sa.update(table)
        .where(table.c.key == key, table.c.done_at.is_(None))
        .values(done_at=now, cancelled=True)
    )


class Scheduler:
    def __init__(
        self,
        database: Any,
        table: sa.Table,
        jobs: Mapping[str, JobHandler],
        *,
        clock: Clock,
        poll_seconds: float,
        batch_size: int = 50,
    ) -> None:
        self._database = database
        self._table = table
        self._jobs = jobs
        self._clock = clock
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
                    handler = self._jobs[job.kind]
                    await handler(dict(job.payload), uow)
                    await uow.commit()
                    continue
                except Exception as error:
                    failure = f"{type(error).__name__}: {error}"
                    log.warning(
                        "scheduled job %s (%s) failed, retrying later: %s", job.key, job.kind, failure
                    )
            await self._record_failure(job.id, job.attempts + 1, failure, now + RETRY_AFTER)
        return claimed

    async def _record_failure(self, job_id: int, attempts: int, error: str, retry_at: datetime) -> None:
        async with self._database.unit_of_work() as uow:
            await uow.session.execute(
                sa.update(self._table)
                .where(self._table.c.id == job_id)
                .values(attempts=attempts, last_error=error[:2000], due_at=retry_at)
            )
            await uow.commit()
