"""The steps every capability takes on an order's shipment groups: load, add, move a group forward, release it to
the warehouse, reject an order, and the customer and line details that messages carry."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row

from shop_contracts import fulfillment as fulfillment_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.values import (
    Address,
    Customer,
    LocatedLine,
    PreorderPolicy,
    PricedLine,
)
from shop_orders.core import repository
from shop_orders.core.domain import (
    CatalogVariant,
    GroupStatus,
    OrderStatus,
)
from shop_orders.core.tables import (
    discount_codes,
    shipment_groups,
)
from shop_runtime.database import UnitOfWork
from shop_runtime.preorder_pricing import balance_due_at


async def record_notification(uow: UnitOfWork, *, order_id: str, template: str, channel: str) -> None:
    await repository.lock_order(uow.session, order_id)
    await repository.add_to_timeline(
        uow.session, order_id, "customer_notified", template=template, channel=channel
    )


async def advance(uow: UnitOfWork, order: Row[Any], group: Row[Any]) -> None:
    """Move a group of an accepted order on: charge its balance first if it has one, else release it."""
    if group.balance_amount > 0:
        await set_group_status(uow, group.id, status=GroupStatus.AWAITING_BALANCE)
        uow.publish(
            payment_contracts.ChargeBalance(
                order_id=order.id,
                group_id=group.id,
                amount=group.balance_amount,
                currency=order.currency,
                attempt=group.balance_failures + 1,
            ),
            subject=order.id,
        )
    else:
        await release_group(uow, order, group)


async def release_group(uow: UnitOfWork, order: Row[Any], group: Row[Any]) -> None:
    await set_group_status(uow, group.id, status=GroupStatus.RELEASED)
    uow.publish(
        fulfillment_contracts.CreateFulfillmentOrder(
            order_id=order.id,
            location=group.location,
            lines=[LocatedLine.model_validate(line) for line in group.lines],
            shipping_address=Address.model_validate(order.shipping_address),
            shipping_method=order.shipping_method,
            group_id=group.id,
        ),
        subject=order.id,
    )


async def add_group(
    uow: UnitOfWork,
    order_id: str,
    *,
    kind: str,
    location: str,
    lines: list[LocatedLine],
    status: GroupStatus,
    group_id: str | None = None,
    balance_amount: int = 0,
    expected_ship_date: date | None = None,
    balance_due_at: datetime | None = None,
) -> Row[Any]:
    row = (
        await uow.session.execute(
            insert(shipment_groups)
            .values(
                id=group_id or str(uuid.uuid4()),
                order_id=order_id,
                kind=kind,
                location=location,
                status=status.value,
                lines=[line.model_dump() for line in lines],
                balance_amount=balance_amount,
                expected_ship_date=expected_ship_date,
                balance_due_at=balance_due_at,
            )
            .returning(*shipment_groups.c)
        )
    ).one()
    return row


def sku_of(group: Row[Any]) -> str:
    """The SKU of a pre-order group (each holds units of one line)."""
    return str(group.lines[0]["sku"])


async def load_group(uow: UnitOfWork, group_id: str) -> Row[Any] | None:
    return (
        await uow.session.execute(sa.select(shipment_groups).where(shipment_groups.c.id == group_id))
    ).first()


async def groups_in(uow: UnitOfWork, order_id: str, *statuses: GroupStatus) -> list[Row[Any]]:
    rows = await uow.session.execute(
        sa.select(shipment_groups)
        .where(
            shipment_groups.c.order_id == order_id, shipment_groups.c.status.in_([s.value for s in statuses])
        )
        .order_by(shipment_groups.c.created_at, shipment_groups.c.id)
    )
    return list(rows)


async def set_group_status(uow: UnitOfWork, group_id: str, *, status: GroupStatus, **values: Any) -> None:
    await uow.session.execute(
        sa.update(shipment_groups)
        .where(shipment_groups.c.id == group_id)
        .values(status=status.value, updated_at=sa.func.now(), **values)
    )


async def reject_order(uow: UnitOfWork, order: Row[Any], *, reason: str, detail: str) -> None:
    await repository.set_status(uow.session, order.id, OrderStatus.REJECTED, reason=reason)
    # A discount code the order redeemed may be used again.
    await uow.session.execute(
        sa.update(discount_codes)
        .where(discount_codes.c.redeemed_by_order == order.id)
        .values(redeemed_by_order=None, redeemed_at=None)
    )
    await repository.add_to_timeline(uow.session, order.id, "rejected", reason=reason, detail=detail)
    uow.publish(
        contracts.OrderRejected(order_id=order.id, customer=customer_of(order), reason=reason, detail=detail),
        subject=order.id,
    )


def policy_of(line: Row[Any], current: CatalogVariant | None = None) -> PreorderPolicy:
    """The policy a pre-order line was sold under: as priced at checkout, else the variant's policy now
    (orders had not heard of it when the order was placed), else pay now in full."""
    if line.preorder_policy:
        return PreorderPolicy.model_validate(line.preorder_policy)
    if current is not None and current.preorder_policy is not None:
        return current.preorder_policy
    return PreorderPolicy(payment_mode="pay_now")


def preorder_summary(line: Row[Any], ordered_at: datetime) -> contracts.PreorderSummary:
    policy = policy_of(line)
    due = balance_due_at(policy, ordered_at)
    return contracts.PreorderSummary(
        sku=line.sku,
        title=line.title,
        quantity=line.quantity,
        payment_mode=policy.payment_mode,
        paid_now=line.paid_now,
        balance=line.balance,
        balance_due=due.isoformat() if due else "on_ready",
        expected_ship_date=line.expected_ship_date,
        queue_position=line.queue_position,
    )


def customer_of(order: Row[Any]) -> Customer:
    return Customer(email=order.email, locale=order.locale)


def priced_line(sku: str, title: str, quantity: int, unit_price: int) -> PricedLine:
    return PricedLine(
        sku=sku, title=title, quantity=quantity, unit_price=unit_price, line_total=unit_price * quantity
    )
