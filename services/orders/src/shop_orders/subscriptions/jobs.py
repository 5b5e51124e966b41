"""Subscriptions' scheduled jobs. Each checks, when it runs, that the subscription still waits for it (a pause, a
skip or a charge since it was scheduled makes it do nothing), so nothing is ever unscheduled.

A job's kind and fields are what the schedule table stores: add fields with defaults, never rename one."""

from __future__ import annotations

from datetime import datetime, timedelta

from shop_orders.subscriptions.domain import Subscription
from shop_runtime.database import UnitOfWork
from shop_runtime.scheduling import Job


class ChargeCycle(Job):
    """A cycle is due: ask payments to charge it (or end a subscription cancelled at the period's end)."""

    KIND = "subscription_charge_cycle"
    subscription_id: str
    cycle: int


class RemindOfCharge(Job):
    """Tell the customer that a cycle will be charged soon."""

    KIND = "subscription_remind_charge"
    subscription_id: str
    cycle: int
    charge_at: datetime


class RetryCycle(Job):
    """Charge a failed cycle again (dunning)."""

    KIND = "subscription_retry_cycle"
    subscription_id: str
    cycle: int
    attempt: int


class EndDunning(Job):
    """The dunning period of a failed cycle ended: cancel the subscription if the cycle is still unpaid."""

    KIND = "subscription_end_dunning"
    subscription_id: str
    cycle: int


async def schedule_next_cycle(
    uow: UnitOfWork, subscription: Subscription, *, notice: timedelta, now: datetime
) -> None:
    """Schedule the charge of the subscription's next cycle and, when there is still time, its reminder."""
    charge_at = subscription.next_charge_at
    stamp = charge_at.isoformat()
    await uow.jobs.schedule(
        ChargeCycle(subscription_id=subscription.id, cycle=subscription.cycle),
        key=f"subscription_charge:{subscription.id}:{subscription.cycle}:{stamp}",
        due_at=charge_at,
    )
    remind_at = charge_at - notice
    if notice > timedelta(0) and remind_at > now:
        await uow.jobs.schedule(
            RemindOfCharge(subscription_id=subscription.id, cycle=subscription.cycle, charge_at=charge_at),
            key=f"subscription_reminder:{subscription.id}:{subscription.cycle}:{stamp}",
            due_at=remind_at,
        )


async def schedule_dunning(
    uow: UnitOfWork,
    *,
    subscription_id: str,
    cycle: int,
    next_attempt: int,
    retry_at: datetime | None,
    give_up_at: datetime,
) -> None:
    """The retry of a failed cycle (when there is one before the period ends) and the period's end."""
    if retry_at is not None:
        await uow.jobs.schedule(
            RetryCycle(subscription_id=subscription_id, cycle=cycle, attempt=next_attempt),
            key=f"subscription_retry:{subscription_id}:{cycle}:{next_attempt}",
            due_at=retry_at,
        )
    await uow.jobs.schedule(
        EndDunning(subscription_id=subscription_id, cycle=cycle),
        key=f"subscription_dunning_end:{subscription_id}:{cycle}",
        due_at=give_up_at,
    )
