"""The kinds of scheduled job orders runs, and scheduling the check of a pre-order's promised date."""

from __future__ import annotations

from datetime import date

from shop_orders.core.domain import promise_check_due
from shop_orders.core.tables import scheduled_jobs
from shop_runtime import scheduling
from shop_runtime.database import UnitOfWork

PAYMENT_OVERDUE = "order_payment_overdue"


PROMISE_CHECK = "preorder_promise_check"


async def schedule_promise_check(uow: UnitOfWork, *, order_id: str, sku: str, promised: date) -> None:
    """Check a pre-order line's promise once its promised day is over (``shop_orders.promises``)."""
    await scheduling.schedule(
        uow.session,
        scheduled_jobs,
        kind=PROMISE_CHECK,
        key=f"{PROMISE_CHECK}:{order_id}:{sku}:{promised.isoformat()}",
        due_at=promise_check_due(promised),
        payload={"order_id": order_id, "sku": sku, "promised": promised.isoformat()},
    )


RETRY_BALANCE = "retry_balance"


CANCEL_UNPAID = "cancel_unpaid_preorder"


CHARGE_SCHEDULED_BALANCE = "charge_scheduled_balance"


REMIND_BALANCE = "remind_balance"


REMIND_BALANCE_WHEN_READY = "remind_balance_when_ready"
