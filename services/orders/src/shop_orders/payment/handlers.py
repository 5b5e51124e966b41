"""The checkout payment's outcome: confirm the order (or refund a payment that lands after a cancellation),
reject it on a failed payment, and record refunds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row

from shop_contracts import catalog as catalog_contracts
from shop_contracts import orders as contracts
from shop_contracts.values import Address
from shop_orders.cancellation import handlers as cancellation
from shop_orders.core import repository
from shop_orders.core.domain import (
    GroupStatus,
    OrderStatus,
    can_move,
)
from shop_orders.core.groups import (
    advance,
    customer_of,
    groups_in,
    preorder_summary,
    priced_line,
    reject_order,
    sku_of,
)
from shop_orders.core.metrics import CHARGED_AT_CHECKOUT, ORDERS_CONFIRMED, ORDERS_REJECTED, PREORDER_UNITS
from shop_orders.core.tables import (
    orders,
    refund_outcomes,
)
from shop_orders.payment.balances import charge_after_notice, schedule_balances_due_by_the_clock
from shop_orders.payment.terms import record_payment_on_terms
from shop_runtime.database import UnitOfWork


async def confirm_paid_order(
    uow: UnitOfWork,
    *,
    order_id: str,
    payment_id: str,
    amount: int,
    now: datetime,
    balance_notice: timedelta,
) -> None:
    """Checkout is paid: confirm, tell the customer, send each group that may ship on its way, and schedule
    the balances that are due by the clock."""
    order = await repository.lock_order(uow.session, order_id)
    if OrderStatus(order.status) is OrderStatus.CANCELLED:
        await cancellation.refund_after_cancel(
            uow, order_id=order_id, payment_id=payment_id, amount=amount, what="checkout"
        )
        return
    if order.payment_terms is not None:
        await record_payment_on_terms(uow, order, payment_id=payment_id, amount=amount, now=now)
        return
    if not can_move(OrderStatus(order.status), OrderStatus.CONFIRMED):
        return
    await repository.set_status(
        uow.session, order_id, OrderStatus.CONFIRMED, payment_token=None, captured=amount
    )
    await repository.add_events_to_timeline(
        uow.session,
        order_id,
        [("payment_captured", {"payment_id": payment_id, "amount": amount}), ("confirmed", {})],
    )
    lines = await repository.lines_of(uow.session, order_id)
    preorder_lines = [line for line in lines if line.kind == "preorder"]
    uow.publish(order_confirmed(order, lines), subject=order_id)
    for group in await groups_in(uow, order_id, GroupStatus.RESERVED, GroupStatus.AWAITING_CONFIRMATION):
        if group.kind == "preorder" and group.balance_amount > 0:  # allocated while checkout was being paid
            line = next(line for line in preorder_lines if line.sku == sku_of(group))
            await charge_after_notice(uow, order, group, line=line, now=now, notice=balance_notice)
        else:
            await advance(uow, order, group)
    await schedule_balances_due_by_the_clock(uow, order, preorder_lines, now=now, notice=balance_notice)
    uow.after_commit(ORDERS_CONFIRMED.labels(order.currency).inc)
    uow.after_commit(lambda: CHARGED_AT_CHECKOUT.labels(order.currency).inc(amount))
    preorder_units = sum(line.quantity for line in preorder_lines)
    uow.after_commit(lambda: PREORDER_UNITS.inc(preorder_units))


def order_confirmed(order: Row[Any], lines: list[Row[Any]]) -> contracts.OrderConfirmed:
    preorder_lines = [line for line in lines if line.kind == "preorder"]
    return contracts.OrderConfirmed(
        order_id=order.id,
        customer=customer_of(order),
        currency=order.currency,
        lines=[priced_line(line.sku, line.title, line.quantity, line.unit_price) for line in lines],
        subtotal=order.subtotal,
        shipping=order.shipping,
        total=order.total,
        shipping_address=Address.model_validate(order.shipping_address),
        # On payment terms nothing is charged now: the email says so instead of thanking for a payment.
        charged_now=0 if order.payment_terms is not None else order.charged_now if preorder_lines else None,
        preorder_lines=[preorder_summary(line, order.created_at) for line in preorder_lines],
    )


async def confirm_on_terms(uow: UnitOfWork, order_id: str) -> None:
    """Stock is held for an order on payment terms: confirm it and send its units to fulfillment unpaid."""
    await repository.set_status(uow.session, order_id, OrderStatus.CONFIRMED, payment_token=None)
    order = await repository.lock_order(uow.session, order_id)
    await repository.add_to_timeline(
        uow.session,
        order_id,
        "confirmed",
        payment_terms=order.payment_terms,
        payment_due=order.payment_due_amount,
        payment_due_date=order.payment_due_date.isoformat() if order.payment_due_date else None,
    )
    uow.publish(order_confirmed(order, await repository.lines_of(uow.session, order_id)), subject=order_id)
    for group in await groups_in(uow, order_id, GroupStatus.RESERVED, GroupStatus.AWAITING_CONFIRMATION):
        await advance(uow, order, group)
    ORDERS_CONFIRMED.labels(order.currency).inc()


async def reject_for_failed_payment(
    uow: UnitOfWork, *, order_id: str, decline_code: str, message: str
) -> None:
    """The card was declined: give the stock and pre-order places back and reject."""
    order = await repository.lock_order(uow.session, order_id)
    if not can_move(OrderStatus(order.status), OrderStatus.REJECTED):
        return
    await uow.session.execute(sa.update(orders).where(orders.c.id == order_id).values(payment_token=None))
    await repository.add_to_timeline(uow.session, order_id, "payment_failed", decline_code=decline_code)
    uow.publish(
        catalog_contracts.ReleaseStock(order_id=order_id, reason="payment_declined"), subject=order_id
    )
    await reject_order(uow, order, reason="payment_declined", detail=f"{decline_code}: {message}")
    uow.after_commit(ORDERS_REJECTED.labels("payment_declined").inc)


async def record_refund(
    uow: UnitOfWork, *, order_id: str, event: str, amount: int, detail: str, idempotency_key: str
) -> None:
    """Payments issued (``refunded``) or refused (``refund_rejected``) a refund: recorded once per key, however
    often it is told; an issued refund replaces a rejection told first, never the other way round."""
    await repository.lock_order(uow.session, order_id)
    statement = insert(refund_outcomes).values(
        idempotency_key=idempotency_key, order_id=order_id, outcome=event, amount=amount, detail=detail
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
        await repository.add_to_timeline(uow.session, order_id, event, amount=amount, detail=detail)
