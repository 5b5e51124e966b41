"""The warehouse's reports about an order's shipment groups (created, picked, short, packed, shipped,
delivered), applied as facts: whatever order they arrive in, and however often, the end state is the same.

Each report records its fact on the group once (a column set only while empty); the group's status follows
the facts and only moves forward; a side effect (stock committed, the customer told, a refund asked) is sent
only by the transaction that first records its fact. Reports carry the group, so one that arrives before
orders heard of its fulfillment order is applied at once; shipped and delivered carry the whole shipment,
so a delivered handled first records the shipment too.

A handler never commits: its edge does, once (the dispatcher, the scheduler, or `committed` for a request).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from shop_contracts import catalog as catalog_contracts
from shop_contracts import orders as contracts
from shop_contracts.fulfillment import Shipment
from shop_contracts.values import LocatedLine
from shop_orders.cancellation.handlers import move_on_if_all_left, request_refund, units_left_to_ship
from shop_orders.core import repository
from shop_orders.core.domain import GroupStatus, OrderStatus, can_move, group_may_move, status_after_shipments
from shop_orders.core.groups import customer_of
from shop_orders.core.pricing import discount_share, tax_share
from shop_orders.core.tables import order_lines, orders, shipment_groups
from shop_orders.payment.terms import schedule_payment_overdue
from shop_runtime.database import UnitOfWork


async def record_fulfillment_created(
    uow: UnitOfWork, *, order_id: str, fulfillment_id: str, location: str, group_id: str | None
) -> None:
    """Fulfillment opened pick work for a group; a group cancelled meanwhile stays cancelled."""
    await repository.lock_order(uow.session, order_id)
    if group_id is None:  # a fulfillment order asked for before groups had ids: the location's in-stock group
        group_id = (
            await uow.session.execute(
                sa.select(shipment_groups.c.id).where(
                    shipment_groups.c.order_id == order_id,
                    shipment_groups.c.location == location,
                    shipment_groups.c.kind == "in_stock",
                )
            )
        ).scalar_one()
    group = await _reported_group(uow, fulfillment_id=fulfillment_id, group_id=group_id)
    if await _move_forward(uow, group, GroupStatus.PICK_REQUESTED):
        await repository.add_to_timeline(
            uow.session,
            order_id,
            "pick_requested",
            fulfillment_id=fulfillment_id,
            location=location,
            group_id=group_id,
        )


async def record_pick(
    uow: UnitOfWork,
    *,
    order_id: str,
    fulfillment_id: str,
    group_id: str | None,
    short_lines: list[LocatedLine],
    now: datetime,
) -> None:
    """The warehouse picked a group, possibly fewer units than asked (a short pick)."""
    order = await repository.lock_order(uow.session, order_id)
    group = await _reported_group(uow, fulfillment_id=fulfillment_id, group_id=group_id)
    if short_lines:
        await _record_short_pick(uow, order, group, short_lines, now=now)
    if await _record_time(uow, group.id, "picked_at", now) is not None and not short_lines:
        await repository.add_to_timeline(uow.session, order_id, "picked", fulfillment_id=fulfillment_id)
    await _move_forward(uow, group, GroupStatus.PICKED)


async def record_packed(
    uow: UnitOfWork, *, order_id: str, fulfillment_id: str, group_id: str | None, now: datetime
) -> None:
    await repository.lock_order(uow.session, order_id)
    group = await _reported_group(uow, fulfillment_id=fulfillment_id, group_id=group_id)
    if await _record_time(uow, group.id, "packed_at", now) is not None:
        await repository.add_to_timeline(uow.session, order_id, "packed", fulfillment_id=fulfillment_id)
    await _move_forward(uow, group, GroupStatus.PACKED)


async def record_shipment(
    uow: UnitOfWork,
    *,
    order_id: str,
    fulfillment_id: str,
    group_id: str | None,
    shipment: Shipment,
    now: datetime,
) -> None:
    """A shipment left: take its units out of stock, tell the customer, and move the order on. An order on
    on-fulfillment terms is due from its first shipment on."""
    order = await repository.lock_order(uow.session, order_id)
    group = await _reported_group(uow, fulfillment_id=fulfillment_id, group_id=group_id)
    await _record_shipment(uow, order, group, shipment, now=now)


async def record_delivery(
    uow: UnitOfWork,
    *,
    order_id: str,
    fulfillment_id: str,
    group_id: str | None,
    shipment: Shipment | None,
    now: datetime,
) -> None:
    """The carrier delivered a shipment. Handled before its shipped report, it records the shipment first
    from what it carries; a delivered report without it waits as a fact that the shipped report completes."""
    order = await repository.lock_order(uow.session, order_id)
    group = await _reported_group(uow, fulfillment_id=fulfillment_id, group_id=group_id)
    if shipment is not None and group.shipped_at is None:
        await _record_shipment(uow, order, group, shipment, now=now)
        group = await _reload(uow, group.id)
    group = await _record_time(uow, group.id, "delivered_at", now) or group
    await _deliver_if_shipped(uow, order, group)


async def _record_shipment(
    uow: UnitOfWork, order: Row[Any], group: Row[Any], shipment: Shipment, *, now: datetime
) -> None:
    if shipment.short_lines:
        await _record_short_pick(uow, order, group, shipment.short_lines, now=now)
    first = await uow.session.execute(
        sa.update(shipment_groups)
        .where(shipment_groups.c.id == group.id, shipment_groups.c.shipped_at.is_(None))
        .values(
            shipped_at=now,
            stock_committed_at=now,
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            shipped_lines=[line.model_dump() for line in shipment.lines],
            updated_at=sa.func.now(),
        )
        .returning(shipment_groups)
    )
    group = first.first()
    if group is None:
        return  # recorded already: a second copy changes nothing and sends nothing
    if (
        order.payment_terms == "on_fulfillment"
        and order.payment_due_date is None
        and order.payment_status == "awaiting_payment"
    ):
        await uow.session.execute(
            sa.update(orders).where(orders.c.id == order.id).values(payment_due_date=now.date())
        )
        await repository.add_to_timeline(
            uow.session, order.id, "payment_due", due_date=now.date().isoformat()
        )
        await schedule_payment_overdue(uow, order_id=order.id, due_date=now.date())
    await repository.add_to_timeline(
        uow.session,
        order.id,
        "shipped",
        fulfillment_id=group.fulfillment_id,
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
    )
    # Units short at the pick are not on the shelf: recorded before the shipment, they leave stock with it.
    short = [LocatedLine.model_validate(line) for line in group.short_lines]
    uow.publish(
        catalog_contracts.CommitStock(order_id=order.id, lines=shipment.lines + short, shipment_id=group.id),
        subject=order.id,
    )
    uow.publish(
        contracts.OrderShipped(
            order_id=order.id,
            customer=customer_of(order),
            fulfillment_id=group.fulfillment_id,
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
        ),
        subject=order.id,
    )
    await _move_forward(uow, group, GroupStatus.SHIPPED)
    await _deliver_if_shipped(uow, order, group)  # its facts are as the update returned them
    await _settle_shipments(uow, order)


async def _deliver_if_shipped(uow: UnitOfWork, order: Row[Any], group: Row[Any]) -> None:
    """A group is delivered once both its shipment and its delivery are recorded; the transaction that
    completes the pair tells the customer."""
    if group.shipped_at is None or group.delivered_at is None:
        return
    if not await _move_forward(uow, group, GroupStatus.DELIVERED):
        return
    await repository.add_to_timeline(uow.session, order.id, "delivered", fulfillment_id=group.fulfillment_id)
    uow.publish(
        contracts.OrderDelivered(
            order_id=order.id, customer=customer_of(order), fulfillment_id=group.fulfillment_id
        ),
        subject=order.id,
    )
    await _settle_shipments(uow, order)


async def _record_short_pick(
    uow: UnitOfWork, order: Row[Any], group: Row[Any], short_lines: list[LocatedLine], *, now: datetime
) -> None:
    """The warehouse picked fewer units than asked: what was picked ships, the rest is refunded now and
    taken off stock with the shipment (at once when the shipment was recorded first, or when nothing at all
    could be picked)."""
    first = await uow.session.execute(
        sa.update(shipment_groups)
        .where(shipment_groups.c.id == group.id, shipment_groups.c.short_picked_at.is_(None))
        .values(short_picked_at=now)
        .returning(shipment_groups.c.id)
    )
    if first.first() is None:
        return  # told again: recorded already
    short = Counter[str]()
    for line in short_lines:
        short[line.sku] += line.quantity
    remaining = []
    for line in group.lines:
        left = int(line["quantity"]) - short[line["sku"]]
        if left > 0:
            remaining.append({**line, "quantity": left})
    await uow.session.execute(
        sa.update(shipment_groups)
        .where(shipment_groups.c.id == group.id)
        .values(
            lines=remaining, short_lines=[line.model_dump() for line in short_lines], updated_at=sa.func.now()
        )
    )
    if not remaining:
        await _move_forward(uow, group, GroupStatus.CANCELLED)
    ordered = {row.sku: row for row in await repository.lines_of(uow.session, order.id)}
    value = 0
    for sku, units in short.items():
        value += units * ordered[sku].unit_price
        await uow.session.execute(
            sa.update(order_lines)
            .where(order_lines.c.order_id == order.id, order_lines.c.sku == sku)
            .values(quantity_refunded=ordered[sku].quantity_refunded + units)
        )
    refund = value - discount_share(discount=order.discount, subtotal=order.subtotal, part=value)
    nothing_ships = await units_left_to_ship(uow.session, order.id) == 0 and not await _any_shipped(
        uow, order.id
    )
    if nothing_ships:
        refund += order.shipping
    refund += tax_share(
        tax=order.tax_added, taxable=order.subtotal - order.discount + order.shipping, part=refund
    )
    await repository.add_to_timeline(
        uow.session,
        order.id,
        "short_pick",
        fulfillment_id=group.fulfillment_id,
        short_lines=[line.model_dump() for line in short_lines],
        refund=refund,
    )
    await request_refund(uow, order, refund, key=f"short:{group.fulfillment_id}", reason="short_pick")
    if not remaining or group.shipped_at is not None:
        # Nothing will ship from this group, or its shipment left before the short pick was recorded: the
        # missing units come off stock now.
        uow.publish(
            catalog_contracts.CommitStock(
                order_id=order.id, lines=short_lines, shipment_id=f"{group.id}:short"
            ),
            subject=order.id,
        )
    order = await repository.lock_order(uow.session, order.id)
    if nothing_ships and can_move(OrderStatus(order.status), OrderStatus.CANCELLED):
        await repository.set_status(uow.session, order.id, OrderStatus.CANCELLED, reason="short_pick")
        uow.publish(
            contracts.OrderCancelled(
                order_id=order.id,
                customer=customer_of(order),
                reason="short_pick",
                refund=refund,
                currency=order.currency,
            ),
            subject=order.id,
        )
    else:
        await move_on_if_all_left(uow, order)


async def _reported_group(uow: UnitOfWork, *, fulfillment_id: str, group_id: str | None) -> Row[Any]:
    """The group a report is about, by its id when the report carries it (the fulfillment order is then
    recorded on it, even before orders heard it was created), else by the fulfillment order. The order is
    locked, so the row read is current: the fulfillment order is written only when the row lacks it."""
    where = (
        shipment_groups.c.id == group_id
        if group_id is not None
        else shipment_groups.c.fulfillment_id == fulfillment_id
    )
    group = (await uow.session.execute(sa.select(shipment_groups).where(where))).first()
    if group is None:
        raise LookupError(f"fulfillment {fulfillment_id} is not known yet; the message will be retried")
    if group.fulfillment_id is None:
        group = (
            await uow.session.execute(
                sa.update(shipment_groups)
                .where(shipment_groups.c.id == group.id)
                .values(fulfillment_id=fulfillment_id)
                .returning(shipment_groups)
            )
        ).one()
    return group


async def _reload(uow: UnitOfWork, group_id: str) -> Row[Any]:
    return (
        await uow.session.execute(sa.select(shipment_groups).where(shipment_groups.c.id == group_id))
    ).one()


async def _record_time(uow: UnitOfWork, group_id: str, column: str, now: datetime) -> Row[Any] | None:
    """Set a fact's time once: the group as it is now for the transaction that set it, None for a copy."""
    recorded = await uow.session.execute(
        sa.update(shipment_groups)
        .where(shipment_groups.c.id == group_id, shipment_groups.c[column].is_(None))
        .values({column: now})
        .returning(shipment_groups)
    )
    group: Row[Any] | None = recorded.first()
    return group


async def _move_forward(uow: UnitOfWork, group: Row[Any], target: GroupStatus) -> bool:
    """Move the group to ``target`` unless it is there, past it, or cancelled; True when it moved."""
    moved = await uow.session.execute(
        sa.update(shipment_groups)
        .where(
            shipment_groups.c.id == group.id,
            shipment_groups.c.status.in_(
                [status.value for status in GroupStatus if group_may_move(status, target)]
            ),
        )
        .values(status=target.value, updated_at=sa.func.now())
        .returning(shipment_groups.c.id)
    )
    return moved.first() is not None


async def _settle_shipments(uow: UnitOfWork, order: Row[Any]) -> None:
    """Move the order's status on from what its groups' shipments say (never back)."""
    order = await repository.lock_order(uow.session, order.id)
    lines = await repository.lines_of(uow.session, order.id)
    shipped, delivered, total = await _progress(uow, order.id, lines)
    target = status_after_shipments(
        OrderStatus(order.status),
        shipped=shipped,
        delivered=delivered,
        total=total,
        any_refunded=shipped + delivered == total and any(line.quantity_refunded for line in lines),
    )
    if target is not None:
        await repository.set_status(uow.session, order.id, target)


async def _progress(uow: UnitOfWork, order_id: str, lines: list[Row[Any]]) -> tuple[int, int, int]:
    """Units shipped (not yet delivered), delivered, and ordered in all (less units refunded)."""
    total = sum(
        line.quantity - line.quantity_refunded
        for line in lines
        if line.kind != "custom"  # a draft's custom line (a service, a fee) ships nothing
    )
    shipped = delivered = 0
    rows = await uow.session.execute(
        sa.select(shipment_groups.c.status, shipment_groups.c.lines).where(
            shipment_groups.c.order_id == order_id,
            shipment_groups.c.status.in_([GroupStatus.SHIPPED.value, GroupStatus.DELIVERED.value]),
        )
    )
    for status, group_lines in rows:
        units = sum(int(line["quantity"]) for line in group_lines)
        if status == GroupStatus.DELIVERED:
            delivered += units
        else:
            shipped += units
    return shipped, delivered, total


async def _any_shipped(uow: UnitOfWork, order_id: str) -> bool:
    found = await uow.session.execute(
        sa.select(shipment_groups.c.id).where(
            shipment_groups.c.order_id == order_id, shipment_groups.c.shipped_at.is_not(None)
        )
    )
    return found.first() is not None
