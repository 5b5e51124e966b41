"""Loading and saving catalog aggregates inside a unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_catalog.domain import (
    Allocation,
    ExpectedInbound,
    QueuedPreorder,
    StockLevel,
    expected_ship_dates,
)
from shop_catalog.tables import (
    inbounds,
    preorder_allocations,
    preorder_policies,
    preorders,
    reservations,
    stock_levels,
    variants,
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
    return [
        StockLevel(
            sku=row.sku,
            location=row.location,
            on_hand=row.on_hand,
            reserved=row.reserved,
            safety_stock=row.safety_stock,
        )
        for row in rows
    ]


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


async def preorder_policy(session: AsyncSession, sku: str) -> PolicyRecord | None:
    row = (await session.execute(sa.select(preorder_policies).where(preorder_policies.c.sku == sku))).first()
    return None if row is None else _record(row)


async def take_queue_positions(session: AsyncSession, sku: str, count: int) -> int:
    """Reserve ``count`` places at the end of the SKU's queue (under its lock); returns the first."""
    last = (
        await session.execute(
            sa.update(preorder_policies)
            .where(preorder_policies.c.sku == sku)
            .values(last_queue_position=preorder_policies.c.last_queue_position + count)
            .returning(preorder_policies.c.last_queue_position)
        )
    ).scalar_one()
    return int(last) - count + 1


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

    A row no longer reserved (its units shipped or were released) starts over with these units.
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
