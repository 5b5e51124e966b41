"""Orders' use cases around the ship date promised for a pre-order: a changed expected date, the customer's
decision about it, and the check at the promised date. Each is one async function in one unit of work.

The promise rules read in one place; a broken promise reuses cancellation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from shop_orders.cancellation import handlers as cancellation
from shop_orders.cancellation.repository import Cancellations
from shop_orders.core import groups
from shop_orders.core import jobs as job_kinds
from shop_orders.core.domain import (
    DATE_CHANGED_REASON,
    PROMISE_BROKEN_REASON,
    WITH_THE_WAREHOUSE,
    GroupStatus,
    OrderStatus,
    decision_token,
)
from shop_orders.core.errors import NoDecisionAwaited, NotCancellable
from shop_orders.core.repository import Orders, SqlOrders
from shop_orders.payment import balances
from shop_runtime.database import UnitOfWork

Decision = Literal["accept", "cancel"]


_TELLABLE = {OrderStatus.RESERVED, OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED}
"""Orders whose waiting pre-order lines hear of a changed date."""
_OPEN = {OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED}


async def record_preorder_date_change(
    uow: UnitOfWork,
    *,
    order_id: str,
    sku: str,
    previous_date: date | None,
    expected_ship_date: date | None,
    now: datetime,
    token_secret: str,
    balance_notice: timedelta,
    version: int | None = None,
    orders: Orders | None = None,
) -> None:
    """Catalog moved a waiting pre-order's expected date: keep it on the line and tell the customer, asking
    for consent when the new date is past the promise (until they give it, the promise check may cancel).

    A change older than one applied (a lower ``version``), or one that leaves the date where orders has it
    (told twice), changes nothing and tells no one."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    if order.status is OrderStatus.PENDING:
        raise LookupError(f"order {order_id} has not heard its stock was reserved yet; retried later")
    line = order.waiting_line(sku)
    if order.status not in _TELLABLE or line is None:
        return
    if order.record_date_change(
        line,
        previous_date=previous_date,
        expected_ship_date=expected_ship_date,
        version=version,
        now=now,
        decision_token=decision_token(token_secret, order_id),
    ):
        await balances.move_reminder_before_ready(
            uow,
            order_id=order_id,
            line=line,
            expected_ship_date=expected_ship_date,
            now=now,
            notice=balance_notice,
        )
        await groups.store(uow, order, orders)


@dataclass(frozen=True)
class DecisionOutcome:
    decision: Decision
    status: str
    refund: int = 0
    promised_ship_dates: dict[str, date] | None = None


async def decide_on_changed_date(
    uow: UnitOfWork,
    *,
    order_id: str,
    decision: Decision,
    now: datetime,
    orders: Orders | None = None,
    cancellations: Cancellations | None = None,
) -> DecisionOutcome:
    """The customer answers a changed date: ``accept`` moves the promise of every line awaiting consent to
    its new date; ``cancel`` cancels the order with everything refunded, deposits included. Answering the
    same way twice changes nothing."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    if not order.lines_with_changed_dates():
        raise NoDecisionAwaited(
            "no pre-order date of this order changed; there is nothing to decide", field="decision"
        )
    if decision == "cancel":
        result = await cancellation.cancel_order(
            uow,
            order_id=order_id,
            reason=DATE_CHANGED_REASON,
            now=now,
            cancelled_by="customer",
            orders=orders,
            cancellations=cancellations,
        )
        return DecisionOutcome(decision=decision, status=result.status, refund=result.refund)
    if order.status not in _OPEN:
        raise NoDecisionAwaited(
            f"an order that is {order.status} takes no decision about its dates", field="decision"
        )
    for sku, promised in order.accept_changed_dates().items():
        # The check at the old promise finds the promise moved and does nothing; this one takes over.
        await job_kinds.schedule_promise_check(uow, order_id=order_id, sku=sku, promised=promised)
    await groups.store(uow, order, orders)
    return DecisionOutcome(
        decision=decision,
        status=order.status,
        promised_ship_dates={
            line.sku: line.promised_ship_date
            for line in order.lines_with_changed_dates()
            if line.promised_ship_date is not None
        },
    )


async def check_promise(
    uow: UnitOfWork,
    *,
    order_id: str,
    sku: str,
    promised: date,
    now: datetime,
    orders: Orders | None = None,
    cancellations: Cancellations | None = None,
) -> None:
    """The promised day of a pre-order line is over. A line still waiting for all its units, whose customer
    did not accept a later date, is cancelled with everything refunded (the deposit too: the shop broke the
    promise); its place goes to the next in the queue, and parts already shipped stay shipped. A line already
    partly allocated, or an order part of which the warehouse is picking or packing right now, is left to
    staff: the timeline says the promise was missed."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    line = order.waiting_line(sku)
    if order.status not in _OPEN or line is None or line.promised_ship_date != promised:
        return  # shipped, cancelled, or the customer accepted a later date (a later check takes over)
    # What already shipped stays shipped (the rest is cancelled and refunded); only a group the warehouse is
    # working on right now would be stopped with it, so then staff decide.
    if order.groups_in(*WITH_THE_WAREHOUSE, GroupStatus.PACKED):
        detail = "part of this order is with the warehouse right now"
    elif line.units_allocated == 0:
        try:
            await cancellation.cancel_order(
                uow,
                order_id=order_id,
                reason=PROMISE_BROKEN_REASON,
                now=now,
                orders=orders,
                cancellations=cancellations,
            )
            return
        except NotCancellable as error:
            detail = str(error)
    else:
        detail = f"{line.units_allocated} of {line.quantity} units are on their way; the rest still wait"
    order.record("promise_missed", sku=sku, promised_ship_date=promised.isoformat(), detail=detail)
    await groups.store(uow, order, orders)
