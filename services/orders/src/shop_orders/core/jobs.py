"""Orders' scheduled jobs: each a command, due at a time, that the worker runs in one unit of work.

A job's kind and fields are what the schedule table stores, so jobs already waiting keep working: add
fields with defaults, never rename one (or a kind). The drafts' two jobs live with drafts' reservations.
"""

from __future__ import annotations

from datetime import date, datetime

from shop_orders.core.domain import promise_check_due
from shop_runtime.database import UnitOfWork
from shop_runtime.scheduling import Job

PAYMENT_OVERDUE = "order_payment_overdue"
PROMISE_CHECK = "preorder_promise_check"
RETRY_BALANCE = "retry_balance"
CANCEL_UNPAID = "cancel_unpaid_preorder"
CHARGE_SCHEDULED_BALANCE = "charge_scheduled_balance"
REMIND_BALANCE = "remind_balance"
REMIND_BALANCE_WHEN_READY = "remind_balance_when_ready"


class MarkPaymentOverdue(Job):
    """The day after an order on terms was due: if still unpaid, it is overdue (the customer is told)."""

    KIND = PAYMENT_OVERDUE
    order_id: str


class CheckPromise(Job):
    """The promised ship date of a pre-order line has passed: keep the promise or let the customer go."""

    KIND = PROMISE_CHECK
    order_id: str
    sku: str
    promised: date


class RetryBalance(Job):
    """Charge a pre-order's failed balance again, until ``give_up_at``."""

    KIND = RETRY_BALANCE
    order_id: str
    group_id: str
    give_up_at: datetime


class CancelUnpaidPreorder(Job):
    """The dunning period of a pre-order's balance ended: cancel the group if it is still unpaid."""

    KIND = CANCEL_UNPAID
    order_id: str
    group_id: str


class ChargeScheduledBalance(Job):
    """Charge a pre-order group's balance now, as scheduled."""

    KIND = CHARGE_SCHEDULED_BALANCE
    order_id: str
    group_id: str


class RemindOfBalance(Job):
    """Tell the customer that a pre-order group's balance will be charged soon."""

    KIND = REMIND_BALANCE
    order_id: str
    group_id: str


class RemindOfBalanceWhenReady(Job):
    """Tell the customer that a pre-order line is about to be ready and its balance will follow."""

    KIND = REMIND_BALANCE_WHEN_READY
    order_id: str
    sku: str


async def schedule_promise_check(uow: UnitOfWork, *, order_id: str, sku: str, promised: date) -> None:
    """Check a pre-order line's promise once its promised day is over (``shop_orders.promises``)."""
    await uow.jobs.schedule(
        CheckPromise(order_id=order_id, sku=sku, promised=promised),
        key=f"{PROMISE_CHECK}:{order_id}:{sku}:{promised.isoformat()}",
        due_at=promise_check_due(promised),
    )
