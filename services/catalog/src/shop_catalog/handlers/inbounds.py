"""Inbound stock: units expected at a location on a date, received (counted in, pre-orders first), or
changed (the expected date moves, and the pre-orders waiting on it are told)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from shop_catalog.domain.errors import InboundAlreadyReceived, UnknownInbound
from shop_catalog.handlers.announcements import tell_availability, tell_changed_ship_dates
from shop_catalog.handlers.preorders import allocate_to_waiting_preorders
from shop_catalog.handlers.products import require_sku
from shop_catalog.handlers.waitlist import tell_waitlists
from shop_catalog.repository import preorders as preorder_records
from shop_catalog.repository import stock as stock_records
from shop_catalog.tables import (
    inbounds,
    inventory_adjustments,
)
from shop_runtime.clock import Clock
from shop_runtime.database import UnitOfWork


async def expect_inbound(
    uow: UnitOfWork, *, sku: str, location: str, quantity: int, expected_at: datetime
) -> uuid.UUID:
    """Record units on their way to a location; waiting pre-orders' ship dates are reckoned from them."""
    await require_sku(uow, sku)
    await preorder_records.lock_preorder_policies(uow.session, [sku])
    inbound_id = uuid.uuid4()
    await uow.session.execute(
        sa.insert(inbounds).values(
            id=inbound_id, sku=sku, location=location, quantity=quantity, expected_at=expected_at
        )
    )
    await tell_changed_ship_dates(uow, sku, reason="inbound_expected")
    return inbound_id


@dataclass(frozen=True)
class ReceivedInbound:
    id: uuid.UUID
    sku: str
    location: str
    received_quantity: int
    allocated: int
    """Of the received units, how many went to waiting pre-orders."""


async def receive_inbound(
    uow: UnitOfWork, *, inbound_id: uuid.UUID, quantity: int, clock: Clock
) -> ReceivedInbound:
    """Put an inbound's units (possibly fewer than expected) on hand, serving waiting pre-orders first."""
    inbound = (
        await uow.session.execute(sa.select(inbounds).where(inbounds.c.id == inbound_id).with_for_update())
    ).first()
    if inbound is None:
        raise UnknownInbound(f"no inbound {inbound_id}", field="inbound_id")
    if inbound.received_at is not None:
        raise InboundAlreadyReceived(f"inbound {inbound_id} was received already", field="inbound_id")
    await preorder_records.lock_preorder_policies(uow.session, [inbound.sku])
    level = await stock_records.lock_or_create_stock_level(uow.session, inbound.sku, inbound.location)
    available_before = await stock_records.available_units(uow.session, [inbound.sku])
    allocated = 0
    if quantity > 0:
        level.adjust(quantity)
        await uow.session.execute(
            sa.insert(inventory_adjustments).values(
                sku=inbound.sku,
                location=inbound.location,
                delta=quantity,
                reason=f"inbound {inbound_id} received",
            )
        )
        allocations = await allocate_to_waiting_preorders(uow, [level])
        allocated = sum(allocation.quantity for allocation in allocations)
        await stock_records.save_stock_levels(uow.session, [level])
        await tell_waitlists(uow, available_before)
        await tell_availability(uow, [inbound.sku])
    await uow.session.execute(
        sa.update(inbounds)
        .where(inbounds.c.id == inbound_id)
        .values(received_quantity=quantity, received_at=clock.now())
    )
    # Units that did not come (a short receipt) no longer cover the pre-orders further down the queue.
    await tell_changed_ship_dates(uow, inbound.sku, reason="inbound_received_short")
    return ReceivedInbound(
        id=inbound_id,
        sku=inbound.sku,
        location=inbound.location,
        received_quantity=quantity,
        allocated=allocated,
    )


@dataclass(frozen=True)
class ChangedInbound:
    id: uuid.UUID
    sku: str
    location: str
    quantity: int
    expected_at: datetime
    ship_dates_changed: int
    """Waiting pre-orders whose expected ship date moved (each order is told)."""


async def change_inbound(
    uow: UnitOfWork, *, inbound_id: uuid.UUID, quantity: int | None, expected_at: datetime | None
) -> ChangedInbound:
    """Change what an expected inbound brings or when (a late or smaller shipment announced by the supplier).

    Every waiting pre-order of the SKU gets its expected ship date reckoned again; the orders whose date
    moved are told, the others hear nothing.
    """
    # The inbound's row, then the SKU's policy: the order receive_inbound locks them in.
    inbound = (
        await uow.session.execute(sa.select(inbounds).where(inbounds.c.id == inbound_id).with_for_update())
    ).first()
    if inbound is None:
        raise UnknownInbound(f"no inbound {inbound_id}", field="inbound_id")
    await preorder_records.lock_preorder_policies(uow.session, [inbound.sku])
    if inbound.received_at is not None:
        raise InboundAlreadyReceived(
            f"inbound {inbound_id} was received already; it cannot change", field="inbound_id"
        )
    changed = await uow.session.execute(
        sa.update(inbounds)
        .where(inbounds.c.id == inbound_id)
        .values(
            quantity=inbound.quantity if quantity is None else quantity,
            expected_at=inbound.expected_at if expected_at is None else expected_at,
        )
        .returning(*inbounds.c)
    )
    row = changed.one()
    told = await tell_changed_ship_dates(uow, inbound.sku, reason="inbound_changed")
    return ChangedInbound(
        id=row.id,
        sku=row.sku,
        location=row.location,
        quantity=row.quantity,
        expected_at=row.expected_at,
        ship_dates_changed=told,
    )
