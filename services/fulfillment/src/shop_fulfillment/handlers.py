"""Fulfillment's use cases: each is one async function that does its work in the unit of work it is given.

A use case never commits: its edge does, once (the dispatcher for a message, the scheduler for a job,
``shop_runtime.http.committed`` for a request), so use cases that call each other share one transaction.
Fulfillment orders are loaded and saved through ``fulfillment_orders`` (PostgreSQL in the unit of work's
transaction unless a caller gives another, as the handler tests give one in memory).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from shop_contracts import Message
from shop_contracts import fulfillment as contracts
from shop_contracts.values import Address, Customer, LocatedLine
from shop_fulfillment.domain import (
    FulfillmentOrder,
    FulfillmentStatus,
    InvalidReturnReceipt,
    Line,
    NotCancellable,
    ReturnAlreadyReceived,
    StatusReached,
    UnknownFulfillment,
    UnknownReturn,
    check_return_receipt,
    sandbox_return_label,
)
from shop_fulfillment.repository import FulfillmentOrders, SqlFulfillmentOrders
from shop_fulfillment.tables import returns
from shop_runtime.database import UnitOfWork


async def create_fulfillment_order(
    uow: UnitOfWork,
    *,
    order_id: str,
    location: str,
    lines: list[Line],
    shipping_address: Address,
    shipping_method: str,
    group_id: str | None = None,
    fulfillment_orders: FulfillmentOrders | None = None,
) -> None:
    """Open a fulfillment order and hand its pick work to the warehouse; a repeated command adds nothing."""
    stored = fulfillment_orders or SqlFulfillmentOrders(uow.session)
    order = FulfillmentOrder(
        id=uuid.uuid4(), order_id=order_id, location=location, lines=lines, group_id=group_id
    )
    created = await stored.add_unless_present(
        order,
        shipping_address=shipping_address.model_dump(mode="json"),
        shipping_method=shipping_method,
    )
    if created:  # its timeline starts with the pick request
        uow.publish(
            contracts.FulfillmentOrderCreated(
                fulfillment_id=str(order.id), order_id=order_id, location=location, group_id=group_id
            ),
            subject=order_id,
        )
        uow.publish(
            contracts.PickRequested(
                fulfillment_id=str(order.id),
                order_id=order_id,
                location=location,
                lines=_located(lines),
                shipping_address=shipping_address,
                shipping_method=shipping_method,
            ),
            subject=order_id,
        )


async def report_fulfillment_event(
    uow: UnitOfWork,
    *,
    fulfillment_id: uuid.UUID,
    reported: FulfillmentStatus,
    carrier: str | None = None,
    tracking_number: str | None = None,
    picked: dict[str, int] | None = None,
    fulfillment_orders: FulfillmentOrders | None = None,
) -> FulfillmentOrder:
    """Record what the warehouse or carrier reports (picked, packed, shipped, delivered) and announce it.

    ``picked`` gives the units picked per SKU when the warehouse found fewer than asked (a short pick).
    """
    stored = fulfillment_orders or SqlFulfillmentOrders(uow.session)
    order = await stored.lock(fulfillment_id)
    if order is None:
        raise UnknownFulfillment(f"no fulfillment order {fulfillment_id}", fields=("fulfillment_id",))
    if reported is FulfillmentStatus.PICKED:
        order.report_pick(picked)
    else:
        order.report(reported, carrier=carrier, tracking_number=tracking_number)
    if order.events:
        await stored.save(order)
        for event in order.events:
            uow.publish(_announcement(order, event), subject=order.order_id)
    return order


async def cancel_fulfillment_order(
    uow: UnitOfWork,
    *,
    order_id: str,
    group_id: str,
    location: str,
    lines: list[Line],
    reason: str,
    shipping_address: Address,
    fulfillment_orders: FulfillmentOrders | None = None,
) -> None:
    """Stop a shipment group: drop its pick work (and tell the warehouse) while it is unpacked, else refuse.

    A group whose fulfillment order has not been opened yet is recorded as cancelled, so the create
    command arriving later opens nothing. Asking again tells the same answer again.
    """
    stored = fulfillment_orders or SqlFulfillmentOrders(uow.session)
    order = await stored.lock_group(order_id=order_id, group_key=group_id)
    if order is None:
        tombstone = FulfillmentOrder(
            id=uuid.uuid4(),
            order_id=order_id,
            location=location,
            lines=lines,
            group_id=group_id,
            status=FulfillmentStatus.CANCELLED,
        )
        await stored.add_unless_present(
            tombstone,
            shipping_address=shipping_address.model_dump(mode="json"),
            shipping_method="",
        )
        uow.publish(contracts.FulfillmentCancelled(order_id=order_id, group_id=group_id), subject=order_id)
        return
    try:
        newly = order.cancel()
    except NotCancellable as refused:
        uow.publish(
            contracts.FulfillmentCancelRefused(
                order_id=order_id,
                group_id=group_id,
                fulfillment_id=str(order.id),
                status=refused.current.value,
            ),
            subject=order_id,
        )
        return
    if newly:
        await stored.save(order)
        uow.publish(
            contracts.PickCancelled(
                fulfillment_id=str(order.id), order_id=order_id, location=order.location, reason=reason
            ),
            subject=order_id,
        )
    uow.publish(
        contracts.FulfillmentCancelled(order_id=order_id, group_id=group_id, fulfillment_id=str(order.id)),
        subject=order_id,
    )


def _announcement(order: FulfillmentOrder, event: StatusReached) -> Message:
    """The event of one step; each carries the group, and shipped and delivered carry the whole shipment, so
    orders can apply any of them before the ones that came first."""
    fulfillment_id = str(order.id)
    match event.status:
        case FulfillmentStatus.PICKED:
            return contracts.FulfillmentPicked(
                fulfillment_id=fulfillment_id,
                order_id=order.order_id,
                group_id=order.group_id,
                short_lines=_located(list(event.short_lines)),
            )
        case FulfillmentStatus.PACKED:
            return contracts.FulfillmentPacked(
                fulfillment_id=fulfillment_id, order_id=order.order_id, group_id=order.group_id
            )
        case FulfillmentStatus.SHIPPED:
            shipment = _shipment(order)
            return contracts.ShipmentShipped(
                fulfillment_id=fulfillment_id,
                order_id=order.order_id,
                group_id=order.group_id,
                **shipment.model_dump(),
            )
        case FulfillmentStatus.DELIVERED:
            return contracts.ShipmentDelivered(
                fulfillment_id=fulfillment_id,
                order_id=order.order_id,
                group_id=order.group_id,
                shipment=_shipment(order),
            )
        case _:
            raise AssertionError(f"{event.status} is not reported by a warehouse")


def _shipment(order: FulfillmentOrder) -> contracts.Shipment:
    # The domain refuses shipped without them; the asserts only tell the type checker.
    assert order.carrier is not None
    assert order.tracking_number is not None
    return contracts.Shipment(
        location=order.location,
        lines=_located(order.lines),
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        short_lines=_located(order.short_lines),
    )


def _located(lines: list[Line]) -> list[LocatedLine]:
    return [LocatedLine(sku=line.sku, quantity=line.quantity, location=line.location) for line in lines]


async def create_return_label(
    uow: UnitOfWork, *, return_id: str, order_id: str, customer: Customer, lines: list[LocatedLine]
) -> None:
    """An approved return: the sandbox carrier makes its label, announced so the customer gets it by email.
    A repeated message finds the return and announces nothing again."""
    label = sandbox_return_label(return_id)
    created = await uow.session.execute(
        insert(returns)
        .values(
            id=return_id,
            order_id=order_id,
            status="label_sent",
            lines=[line.model_dump(mode="json") for line in lines],
            customer=customer.model_dump(mode="json"),
            carrier=label.carrier,
            label_id=label.label_id,
            tracking_number=label.tracking_number,
            label_url=label.label_url,
        )
        .on_conflict_do_nothing(index_elements=[returns.c.id])
    )
    if created.rowcount:  # type: ignore[attr-defined]
        uow.publish(
            contracts.ReturnLabelCreated(
                return_id=return_id,
                order_id=order_id,
                customer=customer,
                carrier=label.carrier,
                label_id=label.label_id,
                tracking_number=label.tracking_number,
                label_url=label.label_url,
            ),
            subject=order_id,
        )


async def receive_return(
    uow: UnitOfWork, *, return_id: str, received: list[tuple[str, int, str]], now: datetime
) -> dict[str, Any]:
    """The warehouse received and inspected a return's parcel: announce what came back in which condition
    (catalog restocks the resellable units at their location; orders refunds)."""
    row = (
        await uow.session.execute(sa.select(returns).where(returns.c.id == return_id).with_for_update())
    ).first()
    if row is None:
        raise UnknownReturn(f"no approved return {return_id}", fields=("return_id",))
    if row.status == "received":
        raise ReturnAlreadyReceived(f"return {return_id} was already received", fields=("return_id",))
    expected: dict[str, int] = {}
    locations: dict[str, str] = {}
    for line in row.lines:
        expected[line["sku"]] = expected.get(line["sku"], 0) + int(line["quantity"])
        locations.setdefault(line["sku"], line["location"])
    check_return_receipt(expected, received)
    lines = [
        contracts.ReturnedLine(sku=sku, quantity=quantity, location=locations[sku], condition=condition)
        for sku, quantity, condition in received
        if quantity > 0
    ]
    if not lines:
        raise InvalidReturnReceipt("report at least one unit received", fields=("lines",))
    received_lines = [line.model_dump(mode="json") for line in lines]
    await uow.session.execute(
        sa.update(returns)
        .where(returns.c.id == return_id)
        .values(status="received", received=received_lines, received_at=now)
    )
    uow.publish(
        contracts.ReturnReceived(return_id=return_id, order_id=row.order_id, lines=lines),
        subject=row.order_id,
    )
    return {"id": return_id, "order_id": row.order_id, "status": "received", "lines": received_lines}
