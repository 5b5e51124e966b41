"""Fakes for handler tests that touch no database (cosmicpython's FakeUnitOfWork, for this runtime).

``FakeUnitOfWork`` is the runtime's own unit of work, never entered: ``publish`` works as in production (the
envelope, the trace headers) and each message is also kept in ``published``; its ``jobs`` is a ``FakeJobs``, the
service's schedule in memory; ``session`` fails, so a handler under test must reach storage through the
repository it is given. Each service's fake repository lives next to its handler tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

import sqlalchemy as sa

from shop_contracts import Envelope, Message
from shop_runtime.database import UnitOfWork
from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.scheduling import Job

_OUTBOX, _INBOX = add_messaging_tables(sa.MetaData())
M = TypeVar("M", bound=Message)
J = TypeVar("J", bound=Job)


@dataclass
class ScheduledJob:
    """A job as the schedule table keeps it: waiting until it ran or was cancelled."""

    job: Job
    due_at: datetime
    ran: bool = False
    cancelled: bool = False

    @property
    def waiting(self) -> bool:
        return not (self.ran or self.cancelled)


class FakeJobs:
    """A service's schedule in memory (``shop_runtime.scheduling.ScheduledJobs``), keyed as the table is: a key
    scheduled twice keeps its first job, a waiting job moves or is cancelled, one that ran or was cancelled
    stays as it was. Give one to several ``FakeUnitOfWork``s to follow the schedule across transactions."""

    def __init__(self) -> None:
        self.by_key: dict[str, ScheduledJob] = {}

    async def schedule(self, job: Job, *, key: str, due_at: datetime) -> None:
        self.by_key.setdefault(key, ScheduledJob(job, due_at))

    async def reschedule(self, job: Job, *, key: str, due_at: datetime) -> None:
        scheduled = self.by_key.get(key)
        if scheduled is None or scheduled.waiting:
            self.by_key[key] = ScheduledJob(job, due_at)

    async def cancel(self, *, key: str, now: datetime) -> None:
        scheduled = self.by_key.get(key)
        if scheduled is not None and scheduled.waiting:
            scheduled.cancelled = True

    def due(self, kind: type[J]) -> list[tuple[J, datetime]]:
        """The jobs of ``kind`` waiting to run, each with when it is due, soonest first."""
        return [(cast(J, scheduled.job), scheduled.due_at) for scheduled in self._waiting(kind)]

    def when(self, key: str) -> datetime | None:
        """When the job with this key is due, or None when none waits under it."""
        scheduled = self.by_key.get(key)
        return scheduled.due_at if scheduled is not None and scheduled.waiting else None

    def cancelled(self, kind: type[J]) -> list[J]:
        """The jobs of ``kind`` cancelled before they ran, in the order they were scheduled."""
        return [
            scheduled.job
            for scheduled in self.by_key.values()
            if isinstance(scheduled.job, kind) and scheduled.cancelled
        ]

    def take(self, kind: type[J], *, due_by: datetime | None = None) -> list[J]:
        """Claim the waiting jobs of ``kind`` (those due by ``due_by`` when given), soonest first, as the
        scheduler does when they are due: they will not run again, and the test runs their handlers."""
        taken = [job for job in self._waiting(kind) if due_by is None or job.due_at <= due_by]
        for scheduled in taken:
            scheduled.ran = True
        return [cast(J, scheduled.job) for scheduled in taken]

    def _waiting(self, kind: type[Job]) -> list[ScheduledJob]:
        waiting = [job for job in self.by_key.values() if isinstance(job.job, kind) and job.waiting]
        return sorted(waiting, key=lambda scheduled: scheduled.due_at)


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, jobs: FakeJobs | None = None) -> None:
        super().__init__(cast(Any, None), outbox=_OUTBOX, inbox=_INBOX)
        self.published: list[Message] = []
        self._jobs = FakeJobs() if jobs is None else jobs

    @property
    def jobs(self) -> FakeJobs:
        return self._jobs

    def publish(self, message: Message, *, subject: str, correlation_id: str | None = None) -> Envelope:
        self.published.append(message)
        return super().publish(message, subject=subject, correlation_id=correlation_id)

    def of_type(self, message_type: type[M]) -> list[M]:
        """What was published of ``message_type``, in order."""
        return [message for message in self.published if isinstance(message, message_type)]

    def run_after_commit(self) -> None:
        """Run what was given to ``after_commit``, as committing would (a fake unit of work has no database)."""
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()
