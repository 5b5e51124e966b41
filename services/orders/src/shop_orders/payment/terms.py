"""Orders paid on terms (net days or bank transfer): the payment request, the payment when it lands, and overdue."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.money import Money
from shop_orders.core.domain import (
    OrderStatus,
    draft_token,
)
from shop_orders.core.errors import OrderNotOnTerms
from shop_orders.core.groups import store
from shop_orders.core.jobs import PAYMENT_OVERDUE, MarkPaymentOverdue
from shop_orders.core.metrics import CHARGED_AT_CHECKOUT
from shop_orders.core.order import Order
from shop_orders.core.repository import Orders, SqlOrders
from shop_orders.core.tables import draft_orders
from shop_runtime.database import UnitOfWork


async def schedule_payment_overdue(uow: UnitOfWork, *, order_id: str, due_date: date) -> None:
    """An order on terms becomes overdue when its due date has passed unpaid (in the caller's unit of work)."""
    await uow.jobs.reschedule(
        MarkPaymentOverdue(order_id=order_id),
        key=f"{PAYMENT_OVERDUE}:{order_id}",
        due_at=datetime.combine(due_date + timedelta(days=1), time(), tzinfo=UTC),
    )


async def request_payment_on_terms(
    uow: UnitOfWork,
    *,
    order_id: str,
    payment_token: str,
    bank_transfer_reference: str | None,
    orders: Orders | None = None,
) -> None:
    """The customer pays an order on terms (or staff saw the bank transfer): payments captures what is due as
    the order's one checkout step, so asking again never charges twice; its outcome is told once, from the
    transaction that recorded it (in the caller's unit of work)."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    if order.payment_terms is None:
        raise OrderNotOnTerms(f"order {order_id} is not on payment terms", field="order_id")
    if order.payment_status == "paid":
        return
    if OrderStatus(order.status) in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
        raise OrderNotOnTerms(f"order {order_id} is {order.status}: nothing is due", field="order_id")
    if order.payment_due_amount is None:  # set with the terms; a message cannot carry a missing amount
        raise OrderNotOnTerms(f"order {order_id} has no amount due on its terms", field="order_id")
    order.record(
        "payment_requested", amount=order.payment_due_amount.amount, reference=bank_transfer_reference
    )
    order.send(
        payment_contracts.CapturePayment(
            order_id=order_id,
            step="full",
            amount=order.payment_due_amount,
            payment_token=payment_token,
            bank_transfer_reference=bank_transfer_reference,
        )
    )
    await store(uow, order, orders)


async def record_payment_on_terms(
    uow: UnitOfWork,
    order: Order,
    *,
    payment_id: str,
    amount: Money,
    now: datetime,
    orders: Orders | None = None,
) -> None:
    """The payment of an order on terms landed: it is paid, and no longer becomes overdue."""
    if order.payment_status != "paid":
        order.captured += amount
        order.payment_status = "paid"
        order.paid_at = now
        order.record("payment_captured", payment_id=payment_id, amount=amount.amount)
        await store(uow, order, orders)
        await uow.jobs.cancel(key=f"{PAYMENT_OVERDUE}:{order.id}", now=now)
        uow.after_commit(lambda: CHARGED_AT_CHECKOUT.labels(order.currency).inc(amount.amount))


async def mark_payment_overdue(
    uow: UnitOfWork, *, order_id: str, now: datetime, token_secret: str, orders: Orders | None = None
) -> None:
    """The due date of an order on terms passed unpaid: it shows overdue and the customer is reminded."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    if order.payment_status == "awaiting_payment" and OrderStatus(order.status) not in (
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
    ):
        order.payment_status = "overdue"
        draft_id = str(
            await uow.session.scalar(sa.select(draft_orders.c.id).where(draft_orders.c.order_id == order_id))
        )
        due = order.payment_due_amount
        order.record(
            "payment_overdue",
            amount=due.amount if due is not None else None,
            due_date=order.payment_due_date.isoformat() if order.payment_due_date else None,
        )
        order.send(
            contracts.OrderPaymentOverdue(
                order_id=order_id,
                customer=order.customer,
                amount=due,
                due_date=order.payment_due_date,
                draft_id=draft_id,
                checkout_token=draft_token(token_secret, draft_id),
            )
        )
        await store(uow, order, orders)
