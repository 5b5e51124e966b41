"""Pre-order policies and places, locked and saved inside a unit of work: units accepted within a cap, the
queue of waiting places, allocations from arrivals, and the ship dates last told."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from shop_catalog.domain.preorders import Allocation, ExpectedInbound, QueuedPreorder, expected_ship_dates
from shop_catalog.repository.stock import add_to_reservation
from shop_catalog.tables import (
    inbounds,
    preorder_allocations,
    preorder_policies,
    preorders,
)
from shop_contracts.values import PreorderPolicy

POLICY_FIELDS = tuple(PreorderPolicy.model_fields)
"""The policy's fields are the columns of ``preorder_policies`` of the same names."""


ACCEPTED = ("waiting", "allocated")
"""Pre-order statuses that hold a place under the cap."""


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


def policy_record(row: sa.Row[Any]) -> PolicyRecord:
    """The policy record of a row with ``preorder_policies``'s columns."""
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
    return {row.sku: policy_record(row) for row in rows}


async def preorder_policies_now(session: AsyncSession, skus: Iterable[str]) -> dict[str, PolicyRecord]:
    """The policy rows of ``skus`` as one statement sees them, without locking them."""
    rows = await session.execute(
        sa.select(preorder_policies).where(preorder_policies.c.sku.in_(sorted(set(skus))))
    )
    return {row.sku: policy_record(row) for row in rows}


async def last_policies(session: AsyncSession, skus: Iterable[str]) -> dict[str, PreorderPolicy]:
    """The SKUs' policies as last set, ended or not: pre-orders accepted under an ended policy keep its date."""
    rows = await session.execute(
        sa.select(preorder_policies).where(preorder_policies.c.sku.in_(sorted(set(skus))))
    )
    return {row.sku: policy_from_row(row) for row in rows}


async def preorder_policy(session: AsyncSession, sku: str) -> PolicyRecord | None:
    row = (await session.execute(sa.select(preorder_policies).where(preorder_policies.c.sku == sku))).first()
    return None if row is None else policy_record(row)


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
