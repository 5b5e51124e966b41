"""The checkout payment's outcome: confirm the order (or refund a payment that lands after a cancellation or a
rejection), reject it on a failed payment, and record refunds."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from shop_contracts.money import Money
from shop_orders.cancellation import handlers as cancellation
from shop_orders.cancellation.repository import Cancellations, SqlCancellations
from shop_orders.core import repository
from shop_orders.core.domain import (
    GroupStatus,
    OrderStatus,
)
from shop_orders.core.groups import store
from shop_orders.core.metrics import CHARGED_AT_CHECKOUT, ORDERS_REJECTED, count_confirmed
from shop_orders.core.order import Order
from shop_orders.core.parts import sku_of
from shop_orders.core.repository import Orders, SqlOrders
from shop_orders.core.tables import refund_outcomes
from shop_orders.payment.balances import charge_after_notice, schedule_balances_due_by_the_clock
from shop_orders.payment.terms import record_payment_on_terms
from shop_runtime.database import UnitOfWork


async def confirm_paid_order(
    uow: UnitOfWork,
    *,
    order_id: str,
    payment_id: str,
    amount: Money,
    now: datetime,
    balance_notice: timedelta,
    held: bool = False,
    orders: Orders | None = None,
    cancellations: Cancellations | None = None,
) -> None:
    """Checkout is paid (or, ``held``, authorised as a card hold captured at shipment): confirm, tell the
    customer, send each group that may ship on its way, and schedule the balances that are due by the clock."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    if order.status is OrderStatus.CANCELLED:
        await cancellation.refund_after_cancel(
            uow,
            order_id=order_id,
            payment_id=payment_id,
            amount=amount,
            what="checkout",
            orders=orders,
            cancellations=cancellations,
        )
        return
    if order.status is OrderStatus.REJECTED:
        await refund_after_rejection(
            uow, order, payment_id=payment_id, amount=amount, orders=orders, cancellations=cancellations
        )
        return
    if order.payment_terms is not None:
        await record_payment_on_terms(
            uow, order, payment_id=payment_id, amount=amount, now=now, orders=orders
        )
        return
    if not order.confirm_payment(payment_id=payment_id, amount=amount, held=held):
        return
    order.send(order.confirmation())
    for group in order.groups_in(GroupStatus.RESERVED, GroupStatus.AWAITING_CONFIRMATION):
        # A pre-order group with a balance was allocated while checkout was being paid.
        if group.kind == "preorder" and group.balance_amount > order.zero():
            await store(uow, order, orders)
            await charge_after_notice(
                uow,
                order,
                group,
                line=order.line(sku_of(group)),
                now=now,
                notice=balance_notice,
                orders=orders,
            )
        else:
            order.advance(group)
    await store(uow, order, orders)
    preorder_lines = [line for line in order.lines if line.kind == "preorder"]
    await schedule_balances_due_by_the_clock(
        uow, order, preorder_lines, now=now, notice=balance_notice, orders=orders
    )
    count_confirmed(
        uow, currency=order.currency, preorder_units=sum(line.quantity for line in preorder_lines)
    )
    uow.after_commit(lambda: CHARGED_AT_CHECKOUT.labels(order.currency).inc(amount.amount))


async def refund_after_rejection(
    uow: UnitOfWork,
    order: Order,
    *,
    payment_id: str,
    amount: Money,
    orders: Orders,
    cancellations: Cancellations | None = None,
) -> None:
    """A checkout payment that succeeded after its order was rejected: an order placed with a hold at checkout
    asks for the capture at once, and catalog may still refuse its stock (the hold expired first). Count it
    captured and give it back at once, once however often it is told."""
    cancellations = cancellations or SqlCancellations(uow.session)
    if not await cancellations.count_late_payment(
        payment_id=payment_id, order_id=order.id, what="checkout", amount=amount.amount
    ):
        return  # told again: counted and refunded already
    order.captured += order.in_its_currency(amount)
    order.request_refund(
        amount, key=f"rejected:{order.id}:checkout:{payment_id}", reason=order.status_reason or "rejected"
    )
    order.record("late_payment_refunded", payment_id=payment_id, amount=amount.amount, what="checkout")
    await store(uow, order, orders)


async def reject_for_failed_payment(
    uow: UnitOfWork, *, order_id: str, decline_code: str, message: str, orders: Orders | None = None
) -> None:
    """The card was declined: give the stock and pre-order places back and reject."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    if order.decline_payment(decline_code=decline_code, message=message):
        await orders.free_discount_code(order_id)
        await store(uow, order, orders)
        uow.after_commit(ORDERS_REJECTED.labels("payment_declined").inc)


async def record_refund(
    uow: UnitOfWork, *, order_id: str, event: str, amount: Money, detail: str, idempotency_key: str
) -> None:
    """Payments issued (``refunded``) or refused (``refund_rejected``) a refund: recorded once per key, however
    often it is told; an issued refund replaces a rejection told first, never the other way round."""
    order = await repository.lock_order(uow.session, order_id)
    statement = insert(refund_outcomes).values(
        idempotency_key=idempotency_key, order_id=order_id, outcome=event, amount=amount.amount, detail=detail
    )
    recorded = await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[refund_outcomes.c.idempotency_key],
            set_={"outcome": statement.excluded.outcome, "amount": statement.excluded.amount},
            where=sa.and_(
                refund_outcomes.c.outcome == "refund_rejected", statement.excluded.outcome == "refunded"
            ),
        ).returning(refund_outcomes.c.idempotency_key)
    )
    if recorded.first() is not None:
        order.record(event, amount=amount.amount, detail=detail)
        await store(uow, order)
