"""Loading and saving catalog aggregates inside a unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_catalog.domain import (
    Allocation,
    ExpectedInbound,
    Place,
    QueuedPreorder,
    Reservation,
    StockLevel,
    WaitlistEntry,
    WaitlistKind,
    expected_ship_dates,
)
from shop_catalog.tables import (
    inbounds,
    preorder_allocations,
    preorder_policies,
    preorders,
    products,
    reservation_changes,
    reservations,
    reserve_requests,
    restocked_returns,
    stock_levels,
    stock_orders,
    variants,
    waitlist_entries,
)
from shop_contracts.values import PreorderPolicy

POLICY_FIELDS = tuple(PreorderPolicy.model_fields)
"""The policy's fields are the columns of ``preorder_policies`` of the same names."""

ACCEPTED = ("waiting", "allocated")
"""Pre-order statuses that hold a place under the cap."""


async def lock_stock_levels(session: AsyncSession, skus: list[str]) -> list[StockLevel]:
    """Lock the stock rows of ``skus`` (in a fixed order, so concurrent reservations cannot deadlock)."""
    rows = (
        await session.execute(
            sa.select(stock_levels)
            .where(stock_levels.c.sku.in_(skus))
            .order_by(stock_levels.c.sku, stock_levels.c.location)
            .with_for_update()
        )
    ).all()
    return [_level(row) for row in rows]


async def stock_levels_now(session: AsyncSession, skus: list[str]) -> list[StockLevel]:
    """The stock rows of ``skus`` as one statement sees them, without locking them."""
    rows = await session.execute(
        sa.select(stock_levels)
        .where(stock_levels.c.sku.in_(skus))
        .order_by(stock_levels.c.sku, stock_levels.c.location)
    )
    return [_level(row) for row in rows]


_AVAILABLE = stock_levels.c.on_hand - stock_levels.c.reserved - stock_levels.c.safety_stock


async def reserve_at_one_location(session: AsyncSession, sku: str, quantity: int) -> StockLevel | None:
    """Reserve ``quantity`` units of ``sku`` at its fullest location in one statement; None when none has them.

    The availability check is in the UPDATE's WHERE clause: PostgreSQL re-checks it on the row's latest
    version after waiting for a concurrent reservation of the same row, so this never oversells and holds
    the row's lock only from the update to the commit. A location chosen just before another order emptied
    it answers None too; the caller then looks again under locks.
    """
    fullest = (
        sa.select(stock_levels.c.location)
        .where(stock_levels.c.sku == sku, quantity <= _AVAILABLE)
        .order_by(_AVAILABLE.desc(), stock_levels.c.location)
        .limit(1)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            sa.update(stock_levels)
            .where(stock_levels.c.sku == sku, stock_levels.c.location == fullest, quantity <= _AVAILABLE)
            .values(reserved=stock_levels.c.reserved + quantity)
            .returning(*stock_levels.c)
        )
    ).first()
    return None if row is None else _level(row)


async def unreserve(session: AsyncSession, level: StockLevel, quantity: int) -> None:
    """Give back units this transaction reserved at ``level`` (its row is still locked by this transaction)."""
    await session.execute(
        sa.update(stock_levels)
        .where(stock_levels.c.sku == level.sku, stock_levels.c.location == level.location)
        .values(reserved=stock_levels.c.reserved - quantity)
    )


def _level(row: sa.Row[Any]) -> StockLevel:
    return StockLevel(
        sku=row.sku,
        location=row.location,
        on_hand=row.on_hand,
        reserved=row.reserved,
        safety_stock=row.safety_stock,
    )


async def lock_or_create_stock_level(session: AsyncSession, sku: str, location: str) -> StockLevel:
    await session.execute(
        insert(stock_levels)
        .values(sku=sku, location=location, on_hand=0, reserved=0)
        .on_conflict_do_nothing()
    )
    [level] = await lock_stock_levels_at(session, sku, location)
    return level


async def lock_stock_levels_at(session: AsyncSession, sku: str, location: str) -> list[StockLevel]:
    levels = await lock_stock_levels(session, [sku])
    return [level for level in levels if level.location == location]


async def save_stock_levels(session: AsyncSession, levels: list[StockLevel]) -> None:
    for level in levels:
        await session.execute(
            sa.update(stock_levels)
            .where(stock_levels.c.sku == level.sku, stock_levels.c.location == level.location)
            .values(on_hand=level.on_hand, reserved=level.reserved)
        )


async def existing_skus(session: AsyncSession, skus: list[str]) -> set[str]:
    rows = await session.execute(sa.select(variants.c.sku).where(variants.c.sku.in_(skus)))
    return set(rows.scalars())


@dataclass(frozen=True)
class PolicyRecord:
    sku: str
    policy: PreorderPolicy | None
    """None once the policy was ended."""
    version: int
    last_queue_position: int
    accepted_units: int
    """Pre-order units waiting or allocated: what counts against the cap."""


def policy_values(policy: PreorderPolicy) -> dict[str, Any]:
    return policy.model_dump(mode="python", include=set(POLICY_FIELDS))


def policy_from_row(row: sa.Row[Any]) -> PreorderPolicy:
    mapping = row._mapping
    return PreorderPolicy.model_validate({name: mapping[name] for name in POLICY_FIELDS})


def _record(row: sa.Row[Any]) -> PolicyRecord:
    return PolicyRecord(
        sku=row.sku,
        policy=None if row.ended_at is not None else policy_from_row(row),
        version=row.version,
        last_queue_position=row.last_queue_position,
        accepted_units=row.accepted_units,
    )


async def lock_preorder_policies(session: AsyncSession, skus: Iterable[str]) -> dict[str, PolicyRecord]:
    """Lock the policy rows of ``skus`` in SKU order: the per-SKU lock of everything touching its queue.

    Callers take it before any stock level of those SKUs, so the two kinds of lock cannot deadlock.
    """
    rows = await session.execute(
        sa.select(preorder_policies)
        .where(preorder_policies.c.sku.in_(sorted(set(skus))))
        .order_by(preorder_policies.c.sku)
        .with_for_update()
    )
    return {row.sku: _record(row) for row in rows}


async def preorder_policies_now(session: AsyncSession, skus: Iterable[str]) -> dict[str, PolicyRecord]:
    """The policy rows of ``skus`` as one statement sees them, without locking them."""
    rows = await session.execute(
        sa.select(preorder_policies).where(preorder_policies.c.sku.in_(sorted(set(skus))))
    )
    return {row.sku: _record(row) for row in rows}


async def last_policies(session: AsyncSession, skus: Iterable[str]) -> dict[str, PreorderPolicy]:
    """The SKUs' policies as last set, ended or not: pre-orders accepted under an ended policy keep its date."""
    rows = await session.execute(
        sa.select(preorder_policies).where(preorder_policies.c.sku.in_(sorted(set(skus))))
    )
    return {row.sku: policy_from_row(row) for row in rows}


async def preorder_policy(session: AsyncSession, sku: str) -> PolicyRecord | None:
    row = (await session.execute(sa.select(preorder_policies).where(preorder_policies.c.sku == sku))).first()
    return None if row is None else _record(row)


async def accept_units(session: AsyncSession, sku: str, quantity: int) -> int:
    """Count ``quantity`` units against the SKU's cap and give them the next place in its queue (under the
    SKU's lock, the cap already checked); returns the place."""
    position = (
        await session.execute(
            sa.update(preorder_policies)
            .where(preorder_policies.c.sku == sku)
            .values(
                accepted_units=preorder_policies.c.accepted_units + quantity,
                last_queue_position=preorder_policies.c.last_queue_position + 1,
            )
            .returning(preorder_policies.c.last_queue_position)
        )
    ).scalar_one()
    return int(position)


async def accept_units_within_cap(
    session: AsyncSession, record: PolicyRecord, quantity: int
) -> tuple[int, int] | None:
    """Like ``accept_units``, deciding the cap in the same statement: the place and the units now accepted;
    None when the cap is reached or the policy is no longer the one read (ended or changed since).

    The cap check is in the UPDATE's WHERE clause: PostgreSQL re-checks it on the row's latest version after
    waiting for a concurrent acceptance, so racing orders never accept more than the cap.
    """
    policy = preorder_policies.c
    position = (
        await session.execute(
            sa.update(preorder_policies)
            .where(
                policy.sku == record.sku,
                policy.version == record.version,
                policy.ended_at.is_(None),
                sa.or_(policy.cap.is_(None), policy.accepted_units + quantity <= policy.cap),
            )
            .values(
                accepted_units=policy.accepted_units + quantity,
                last_queue_position=policy.last_queue_position + 1,
            )
            .returning(policy.last_queue_position, policy.accepted_units)
        )
    ).first()
    return None if position is None else (int(position[0]), int(position[1]))


async def next_availability_version(session: AsyncSession, sku: str) -> int:
    """Bump the SKU's availability version and lock its variant row until commit, so the availability
    messages of one SKU are numbered in the order their transactions commit."""
    version = (
        await session.execute(
            sa.update(variants)
            .where(variants.c.sku == sku)
            .values(availability_version=variants.c.availability_version + 1)
            .returning(variants.c.availability_version)
        )
    ).scalar_one()
    return int(version)


async def unaccept_units(session: AsyncSession, sku: str, quantity: int) -> None:
    """Undo ``accept_units`` of this transaction (its row lock kept everyone else from taking a place since)."""
    await session.execute(
        sa.update(preorder_policies)
        .where(preorder_policies.c.sku == sku)
        .values(
            accepted_units=preorder_policies.c.accepted_units - quantity,
            last_queue_position=preorder_policies.c.last_queue_position - 1,
        )
    )


async def release_preorders(
    session: AsyncSession, order_id: str, *, statuses: Iterable[str] = ACCEPTED
) -> set[str]:
    """Release the order's pre-orders in these statuses, freeing their units under the cap (SKUs locked by
    the caller); the SKUs whose queues gave places back."""
    released = await session.execute(
        sa.update(preorders)
        .where(preorders.c.order_id == order_id, preorders.c.status.in_(tuple(statuses)))
        .values(status="released", updated_at=sa.func.now())
        .returning(preorders.c.sku, preorders.c.quantity)
    )
    freed: dict[str, int] = {}
    for sku, quantity in released.all():
        freed[sku] = freed.get(sku, 0) + quantity
    for sku, quantity in sorted(freed.items()):
        await session.execute(
            sa.update(preorder_policies)
            .where(preorder_policies.c.sku == sku)
            .values(accepted_units=preorder_policies.c.accepted_units - quantity)
        )
    return set(freed)


async def accepted_units(
    session: AsyncSession, skus: Iterable[str], *, customer_email: str | None = None
) -> dict[str, int]:
    """Pre-order units accepted and not released per SKU (of one customer when an email is given)."""
    query = (
        sa.select(preorders.c.sku, sa.func.sum(preorders.c.quantity))
        .where(preorders.c.sku.in_(list(skus)), preorders.c.status.in_(ACCEPTED))
        .group_by(preorders.c.sku)
    )
    if customer_email is not None:
        query = query.where(sa.func.lower(preorders.c.customer_email) == customer_email.lower())
    return {sku: int(total) for sku, total in (await session.execute(query)).all()}


def _queued(row: sa.Row[Any]) -> QueuedPreorder:
    return QueuedPreorder(
        id=row.id,
        order_id=row.order_id,
        sku=row.sku,
        quantity=row.quantity,
        allocated=row.allocated,
        queue_position=row.queue_position,
        told_ship_date=row.expected_ship_date,
    )


async def waiting_preorders(session: AsyncSession, skus: Iterable[str]) -> list[QueuedPreorder]:
    """The SKUs' pre-orders still waiting for units, in queue order."""
    rows = await session.execute(
        sa.select(preorders)
        .where(preorders.c.sku.in_(list(skus)), preorders.c.status == "waiting")
        .order_by(preorders.c.sku, preorders.c.queue_position)
    )
    return [_queued(row) for row in rows]


async def expected_inbounds(session: AsyncSession, skus: Iterable[str]) -> dict[str, list[ExpectedInbound]]:
    rows = await session.execute(
        sa.select(inbounds.c.sku, inbounds.c.quantity, inbounds.c.expected_at)
        .where(inbounds.c.sku.in_(list(skus)), inbounds.c.received_at.is_(None))
        .order_by(inbounds.c.expected_at, inbounds.c.created_at)
    )
    found: dict[str, list[ExpectedInbound]] = {}
    for row in rows:
        found.setdefault(row.sku, []).append(
            ExpectedInbound(quantity=row.quantity, expected_at=row.expected_at)
        )
    return found


async def add_preorder(
    session: AsyncSession,
    *,
    order_id: str,
    sku: str,
    quantity: int,
    queue_position: int,
    customer_email: str | None,
    created_at: datetime,
) -> QueuedPreorder:
    preorder = QueuedPreorder(
        id=uuid.uuid4(),
        order_id=order_id,
        sku=sku,
        quantity=quantity,
        allocated=0,
        queue_position=queue_position,
    )
    await session.execute(
        sa.insert(preorders).values(
            id=preorder.id,
            order_id=order_id,
            sku=sku,
            quantity=quantity,
            queue_position=queue_position,
            customer_email=customer_email,
            status="waiting",
            created_at=created_at,
        )
    )
    return preorder


async def save_allocations(
    session: AsyncSession, queue: list[QueuedPreorder], allocations: list[Allocation]
) -> None:
    """Record allocations: the pre-orders' allocated units, and the units reserved for their orders."""
    served = {allocation.preorder_id for allocation in allocations}
    for preorder in queue:
        if preorder.id in served:
            await session.execute(
                sa.update(preorders)
                .where(preorders.c.id == preorder.id)
                .values(
                    allocated=preorder.allocated,
                    status="waiting" if preorder.waiting else "allocated",
                    updated_at=sa.func.now(),
                )
            )
    for allocation in allocations:
        await session.execute(
            sa.insert(preorder_allocations).values(
                id=allocation.id,
                preorder_id=allocation.preorder_id,
                order_id=allocation.order_id,
                sku=allocation.sku,
                location=allocation.location,
                quantity=allocation.quantity,
            )
        )
        await add_to_reservation(
            session,
            order_id=allocation.order_id,
            sku=allocation.sku,
            location=allocation.location,
            quantity=allocation.quantity,
        )


async def add_to_reservation(
    session: AsyncSession, *, order_id: str, sku: str, location: str, quantity: int
) -> None:
    """Reserve units for an order at a location, adding to the order's row there if it has one.

    A row no longer reserved (its units shipped or were released) holds these units again; what it
    committed before stays counted.
    """
    statement = insert(reservations).values(
        order_id=order_id, sku=sku, location=location, quantity=quantity, status="reserved"
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[reservations.c.order_id, reservations.c.sku, reservations.c.location],
            set_={
                "quantity": sa.case(
                    (
                        reservations.c.status == "reserved",
                        reservations.c.quantity + statement.excluded.quantity,
                    ),
                    else_=statement.excluded.quantity,
                ),
                "status": "reserved",
                "updated_at": sa.func.now(),
            },
        )
    )


@dataclass(frozen=True)
class StockOrder:
    """What catalog knows of an order as a whole, read under the order's lock."""

    order_id: str
    new: bool
    """No message of this order came before (so nothing of it waits to be applied)."""
    released: bool
    """Everything it held was given back: nothing is reserved for it again."""


async def lock_stock_order(session: AsyncSession, order_id: str) -> StockOrder:
    """Lock the order's row, making it on its first message: every stock message of one order takes this
    lock first, so two replicas never handle the same order's messages at once."""
    inserted = (
        await session.execute(
            insert(stock_orders)
            .values(order_id=order_id)
            .on_conflict_do_nothing(index_elements=[stock_orders.c.order_id])
            .returning(stock_orders.c.order_id)
        )
    ).first()
    if inserted is not None:
        return StockOrder(order_id=order_id, new=True, released=False)
    row = (
        await session.execute(
            sa.select(stock_orders.c.released_at).where(stock_orders.c.order_id == order_id).with_for_update()
        )
    ).one()
    return StockOrder(order_id=order_id, new=False, released=row.released_at is not None)


async def mark_released(session: AsyncSession, order_id: str) -> bool:
    """Record that the order gave everything back (the caller holds its lock); False when it had already."""
    marked = await session.execute(
        sa.update(stock_orders)
        .where(stock_orders.c.order_id == order_id, stock_orders.c.released_at.is_(None))
        .values(released_at=sa.func.now())
        .returning(stock_orders.c.order_id)
    )
    return marked.first() is not None


async def record_reserve_request(session: AsyncSession, order_id: str, request_key: str) -> bool:
    """Record a reserve of the order (its own lines, or an exchange's); False when it was decided before."""
    inserted = await session.execute(
        insert(reserve_requests)
        .values(order_id=order_id, request_key=request_key)
        .on_conflict_do_nothing(index_elements=[reserve_requests.c.order_id, reserve_requests.c.request_key])
        .returning(reserve_requests.c.order_id)
    )
    return inserted.first() is not None


ChangeKind = Literal["commit", "release"]


async def record_change(
    session: AsyncSession, *, order_id: str, kind: ChangeKind, change_id: str, units: dict[Place, int]
) -> bool:
    """Record a shipment's commit or a partial release, per place, once (the caller holds the order's lock);
    False when the same change was recorded before, whatever the units it named then."""
    known = (
        await session.execute(
            sa.select(reservation_changes.c.order_id)
            .where(
                reservation_changes.c.order_id == order_id,
                reservation_changes.c.kind == kind,
                reservation_changes.c.change_id == change_id,
            )
            .limit(1)
        )
    ).first()
    if known is not None:
        return False
    await session.execute(
        sa.insert(reservation_changes),
        [
            {
                "order_id": order_id,
                "kind": kind,
                "change_id": change_id,
                "sku": sku,
                "location": location,
                "quantity": quantity,
            }
            for (sku, location), quantity in sorted(units.items())
        ],
    )
    return True


async def add_applied(
    session: AsyncSession, *, order_id: str, kind: ChangeKind, change_id: str, units: dict[Place, int]
) -> None:
    """Count units of a recorded change as taken from the order's reservation."""
    for (sku, location), quantity in sorted(units.items()):
        await session.execute(
            sa.update(reservation_changes)
            .where(
                reservation_changes.c.order_id == order_id,
                reservation_changes.c.kind == kind,
                reservation_changes.c.change_id == change_id,
                reservation_changes.c.sku == sku,
                reservation_changes.c.location == location,
            )
            .values(applied=reservation_changes.c.applied + quantity)
        )


@dataclass(frozen=True)
class PendingChange:
    """Units of a recorded change not yet taken: they came before the units were reserved."""

    kind: ChangeKind
    change_id: str
    units: dict[Place, int]


async def pending_changes(session: AsyncSession, order_id: str) -> list[PendingChange]:
    """The order's changes with units still to take: commits first (those units left the building), each
    kind in the order it was recorded."""
    rows = await session.execute(
        sa.select(reservation_changes)
        .where(
            reservation_changes.c.order_id == order_id,
            reservation_changes.c.applied < reservation_changes.c.quantity,
        )
        .order_by(
            reservation_changes.c.kind,
            reservation_changes.c.recorded_at,
            reservation_changes.c.change_id,
            reservation_changes.c.sku,
            reservation_changes.c.location,
        )
    )
    changes: dict[tuple[str, str], PendingChange] = {}
    for row in rows:
        change = changes.setdefault(
            (row.kind, row.change_id), PendingChange(kind=row.kind, change_id=row.change_id, units={})
        )
        change.units[row.sku, row.location] = row.quantity - row.applied
    return list(changes.values())


async def lock_reservations(
    session: AsyncSession, order_id: str, skus: Iterable[str] | None = None
) -> dict[Place, Reservation]:
    """Lock the order's reservation rows (of ``skus`` only, when given), by place."""
    query = (
        sa.select(reservations)
        .where(reservations.c.order_id == order_id)
        .order_by(reservations.c.sku, reservations.c.location)
        .with_for_update()
    )
    if skus is not None:
        query = query.where(reservations.c.sku.in_(sorted(set(skus))))
    return {
        (row.sku, row.location): Reservation(
            order_id=row.order_id,
            sku=row.sku,
            location=row.location,
            # Rows written before ``committed`` existed kept their quantity when they stopped holding it.
            held=row.quantity if row.status == "reserved" else 0,
            committed=row.committed,
        )
        for row in (await session.execute(query)).all()
    }


async def save_reservations(session: AsyncSession, changed: Iterable[Reservation]) -> None:
    for reservation in changed:
        await session.execute(
            sa.update(reservations)
            .where(
                reservations.c.order_id == reservation.order_id,
                reservations.c.sku == reservation.sku,
                reservations.c.location == reservation.location,
            )
            .values(
                quantity=reservation.held,
                committed=reservation.committed,
                status=reservation.status,
                updated_at=sa.func.now(),
            )
        )


async def record_restocked_return(session: AsyncSession, return_id: str) -> bool:
    """Record that a return's units are counted back in; False when they were before."""
    inserted = await session.execute(
        insert(restocked_returns)
        .values(return_id=return_id)
        .on_conflict_do_nothing(index_elements=[restocked_returns.c.return_id])
        .returning(restocked_returns.c.return_id)
    )
    return inserted.first() is not None


async def ship_dates(
    session: AsyncSession, skus: Iterable[str], policies: dict[str, PreorderPolicy]
) -> dict[uuid.UUID, date | None]:
    """Expected ship date of every waiting pre-order of ``skus``, from the inbounds still expected."""
    skus = sorted(set(skus))
    queue = await waiting_preorders(session, skus)
    supply = await expected_inbounds(session, skus)
    dates: dict[uuid.UUID, date | None] = {}
    for sku in skus:
        policy = policies.get(sku)
        dates.update(
            expected_ship_dates(
                [preorder for preorder in queue if preorder.sku == sku],
                supply.get(sku, []),
                policy.expected_ship_date if policy else None,
            )
        )
    return dates


async def remember_ship_dates(
    session: AsyncSession, dates: dict[uuid.UUID, date | None]
) -> dict[uuid.UUID, int]:
    """Record the expected ship date each pre-order's order is told (one statement for them all), and count the
    change on each pre-order: the version its message carries, so a consumer can tell a late one."""
    if not dates:
        return {}
    told = sa.values(
        sa.column("preorder_id", postgresql.UUID(as_uuid=True)), sa.column("told", sa.Date), name="told"
    ).data(list(dates.items()))
    rows = await session.execute(
        sa.update(preorders)
        .where(preorders.c.id == told.c.preorder_id)
        .values(expected_ship_date=sa.cast(told.c.told, sa.Date), eta_version=preorders.c.eta_version + 1)
        .returning(preorders.c.id, preorders.c.eta_version)
    )
    return {preorder_id: version for preorder_id, version in rows}


async def available_units(session: AsyncSession, skus: Iterable[str]) -> dict[str, int]:
    """Units of each SKU that may still be promised, over all its locations (as this transaction sees them)."""
    rows = await session.execute(
        sa.select(
            stock_levels.c.sku,
            sa.func.sum(
                sa.func.greatest(
                    stock_levels.c.on_hand - stock_levels.c.reserved - stock_levels.c.safety_stock, 0
                )
            ),
        )
        .where(stock_levels.c.sku.in_(sorted(set(skus))))
        .group_by(stock_levels.c.sku)
    )
    return {sku: int(total) for sku, total in rows.all()}


_NOTIFIED_AT: dict[WaitlistKind, sa.Column[Any]] = {
    "back_in_stock": waitlist_entries.c.back_in_stock_notified_at,
    "preorder_open": waitlist_entries.c.preorder_open_notified_at,
}


def waitlist_entry_from_row(row: sa.Row[Any]) -> WaitlistEntry:
    return WaitlistEntry(
        id=row.id,
        sku=row.sku,
        email=row.email,
        locale=row.locale,
        created_at=row.created_at,
        notified_at={kind: row._mapping[column.name] for kind, column in _NOTIFIED_AT.items()},
    )


async def add_waitlist_entry(
    session: AsyncSession, *, sku: str, email: str, locale: str
) -> tuple[WaitlistEntry, bool]:
    """Put ``email`` on the SKU's waitlist, or find it there (taking the newer ``locale``).

    Returns the entry and whether it is new.
    """
    inserted = (
        await session.execute(
            insert(waitlist_entries)
            .values(id=uuid.uuid4(), sku=sku, email=email, locale=locale)
            .on_conflict_do_nothing(index_elements=[waitlist_entries.c.sku, waitlist_entries.c.email])
            .returning(*waitlist_entries.c)
        )
    ).first()
    if inserted is not None:
        return waitlist_entry_from_row(inserted), True
    existing = (
        await session.execute(
            sa.update(waitlist_entries)
            .where(waitlist_entries.c.sku == sku, waitlist_entries.c.email == email)
            .values(locale=locale)
            .returning(*waitlist_entries.c)
        )
    ).one()
    return waitlist_entry_from_row(existing), False


async def delete_waitlist_entry(session: AsyncSession, entry_id: uuid.UUID) -> bool:
    result = await session.execute(
        sa.delete(waitlist_entries).where(waitlist_entries.c.id == entry_id).returning(waitlist_entries.c.id)
    )
    return result.first() is not None


async def lock_waitlist_to_notify(session: AsyncSession, sku: str, kind: WaitlistKind) -> list[WaitlistEntry]:
    """Lock the SKU's entries not yet told of ``kind``, oldest first."""
    rows = await session.execute(
        sa.select(waitlist_entries)
        .where(waitlist_entries.c.sku == sku, _NOTIFIED_AT[kind].is_(None))
        .order_by(waitlist_entries.c.created_at, waitlist_entries.c.id)
        .with_for_update()
    )
    return [waitlist_entry_from_row(row) for row in rows]


async def mark_waitlist_notified(
    session: AsyncSession, entry_ids: list[uuid.UUID], kind: WaitlistKind
) -> None:
    await session.execute(
        sa.update(waitlist_entries)
        .where(waitlist_entries.c.id.in_(entry_ids))
        .values({_NOTIFIED_AT[kind].name: sa.func.now()})
    )


async def reset_waitlist_notified(session: AsyncSession, skus: list[str], kind: WaitlistKind) -> None:
    """Let the SKUs' subscribers hear of ``kind`` again the next time it happens."""
    await session.execute(
        sa.update(waitlist_entries)
        .where(waitlist_entries.c.sku.in_(skus), _NOTIFIED_AT[kind].is_not(None))
        .values({_NOTIFIED_AT[kind].name: None})
    )


@dataclass(frozen=True)
class VariantListing:
    """What a message about a variant names: its product and options."""

    sku: str
    product_id: uuid.UUID
    title: str
    options: dict[str, str]


async def variant_listing(session: AsyncSession, sku: str) -> VariantListing:
    row = (
        await session.execute(
            sa.select(variants.c.sku, variants.c.product_id, variants.c.options, products.c.title)
            .join(products, products.c.id == variants.c.product_id)
            .where(variants.c.sku == sku)
        )
    ).one()
    return VariantListing(sku=row.sku, product_id=row.product_id, title=row.title, options=dict(row.options))
