"""What the ops tool reads from each service database, through the services' own table definitions."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shop_catalog import tables as catalog
from shop_fulfillment import tables as fulfillment
from shop_notifications import tables as notifications
from shop_ops.rows import (
    DraftHold,
    FulfillmentOrderState,
    HoldLedger,
    HoldMovement,
    OrderLedger,
    OrderState,
    PaymentLedger,
    PreorderCapUse,
    ShipmentGroupState,
    StepPayments,
    StockLevel,
    SucceededPayments,
    UnpaidHold,
    UnpublishedOutboxRow,
)
from shop_orders.core import tables as orders
from shop_payments import tables as payments

WAITING_GROUP_STATUSES = (
    "awaiting_balance",
    "balance_failed",
    "balance_scheduled",
    "paid_awaiting_stock",
    "awaiting_line_balance",
)
"""Orders' shipment groups held before fulfillment: a balance to charge (now, later or again) or stock to come."""

OUTBOXES: dict[str, sa.Table] = {
    "orders": orders.outbox,
    "catalog": catalog.outbox,
    "payments": payments.outbox,
    "fulfillment": fulfillment.outbox,
    "notifications": notifications.outbox,
}


def _order_state(row: Any) -> OrderState:
    return OrderState(
        order_id=row.id,
        status=row.status,
        total=row.total,
        currency=row.currency,
        created_at=row.created_at,
        since=row.updated_at,
        status_reason=row.status_reason,
        charged_now=getattr(row, "charged_now", None),
        waiting_preorder=bool(getattr(row, "waiting_preorder", False)),
        payment_status=getattr(row, "payment_status", None),
        payment_terms=getattr(row, "payment_terms", None),
        payment_due_date=getattr(row, "payment_due_date", None),
    )


_ORDER_COLUMNS = (
    orders.orders.c.id,
    orders.orders.c.status,
    orders.orders.c.total,
    orders.orders.c.currency,
    orders.orders.c.created_at,
    orders.orders.c.updated_at,
    orders.orders.c.status_reason,
    # Pre-orders add what checkout charges; read it where the orders schema has it.
    *(
        orders.orders.c[name]
        for name in ("charged_now", "payment_status", "payment_terms", "payment_due_date")
        if name in orders.orders.c
    ),
    sa.or_(
        sa.exists().where(
            orders.order_lines.c.order_id == orders.orders.c.id,
            orders.order_lines.c.kind == "preorder",
            orders.order_lines.c.units_allocated < orders.order_lines.c.quantity,
        ),
        sa.exists().where(
            orders.shipment_groups.c.order_id == orders.orders.c.id,
            orders.shipment_groups.c.status.in_(WAITING_GROUP_STATUSES),
        ),
    ).label("waiting_preorder"),
)


async def order_states(
    connection: AsyncConnection,
    *,
    statuses: Iterable[str] | None = None,
    changed_before: datetime | None = None,
) -> list[OrderState]:
    query = sa.select(*_ORDER_COLUMNS).order_by(orders.orders.c.updated_at, orders.orders.c.id)
    if statuses is not None:
        query = query.where(orders.orders.c.status.in_(list(statuses)))
    if changed_before is not None:
        query = query.where(orders.orders.c.updated_at < changed_before)
    return [_order_state(row) for row in await connection.execute(query)]


async def order_state(connection: AsyncConnection, order_id: str) -> OrderState | None:
    row = (await connection.execute(sa.select(*_ORDER_COLUMNS).where(orders.orders.c.id == order_id))).first()
    return _order_state(row) if row is not None else None


async def stock_levels(connection: AsyncConnection) -> list[StockLevel]:
    table = catalog.stock_levels
    rows = await connection.execute(
        sa.select(table.c.sku, table.c.location, table.c.on_hand, table.c.reserved, table.c.safety_stock)
    )
    return [StockLevel(*row) for row in rows]


async def reserved_by_place(connection: AsyncConnection) -> dict[tuple[str, str], int]:
    table = catalog.reservations
    rows = await connection.execute(
        sa.select(table.c.sku, table.c.location, sa.func.sum(table.c.quantity))
        .where(table.c.status == "reserved")
        .group_by(table.c.sku, table.c.location)
    )
    return {(sku, location): int(total) for sku, location, total in rows}


PREORDERS_UNDER_CAP = ("waiting", "allocated")
"""Pre-order statuses that hold a place under the cap (as catalog counts them)."""


async def preorder_cap_uses(connection: AsyncConnection) -> list[PreorderCapUse]:
    """Every capped pre-order policy (ended ones too: their pre-orders keep their places) with its accepted units."""
    policies, preorders = catalog.preorder_policies, catalog.preorders
    accepted = (
        sa.select(preorders.c.sku, sa.func.sum(preorders.c.quantity).label("units"))
        .where(preorders.c.status.in_(PREORDERS_UNDER_CAP))
        .group_by(preorders.c.sku)
        .subquery()
    )
    rows = await connection.execute(
        sa.select(policies.c.sku, policies.c.cap, sa.func.coalesce(accepted.c.units, 0))
        .select_from(policies.outerjoin(accepted, accepted.c.sku == policies.c.sku))
        .where(policies.c.cap.is_not(None))
        .order_by(policies.c.sku)
    )
    return [PreorderCapUse(sku, int(cap), int(units)) for sku, cap, units in rows]


def _sum_of(kind: str) -> sa.ColumnElement[Any]:
    entries = payments.ledger_entries
    return sa.func.coalesce(sa.func.sum(entries.c.amount).filter(entries.c.kind == kind), 0)


async def order_ledgers(connection: AsyncConnection) -> list[OrderLedger]:
    entries = payments.ledger_entries
    rows = await connection.execute(
        sa.select(
            entries.c.order_id,
            sa.func.array_agg(sa.distinct(entries.c.currency)),
            _sum_of("capture"),
            _sum_of("refund"),
        ).group_by(entries.c.order_id)
    )
    return [
        OrderLedger(order_id, tuple(sorted(currencies)), int(captured), int(refunded))
        for order_id, currencies, captured, refunded in rows
    ]


async def payment_ledgers(connection: AsyncConnection) -> list[PaymentLedger]:
    entries = payments.ledger_entries
    rows = await connection.execute(
        sa.select(entries.c.payment_id, entries.c.order_id, _sum_of("capture"), _sum_of("refund")).group_by(
            entries.c.payment_id, entries.c.order_id
        )
    )
    return [PaymentLedger(payment_id, order_id, int(c), int(r)) for payment_id, order_id, c, r in rows]


async def repeated_successful_steps(connection: AsyncConnection) -> list[StepPayments]:
    table = payments.payments
    rows = await connection.execute(
        sa.select(table.c.order_id, table.c.step, sa.func.array_agg(table.c.id))
        .where(table.c.status == "succeeded")
        .group_by(table.c.order_id, table.c.step)
        .having(sa.func.count() > 1)
    )
    return [StepPayments(order_id, step, tuple(sorted(ids))) for order_id, step, ids in rows]


async def succeeded_payments(connection: AsyncConnection) -> dict[str, SucceededPayments]:
    table = payments.payments
    rows = await connection.execute(
        sa.select(
            table.c.order_id, sa.func.sum(table.c.amount), sa.func.array_agg(sa.distinct(table.c.currency))
        )
        # What the order was charged or authorised at checkout and for balances: captures of a hold and the
        # charge replacing a lapsed hold take what the authorisation already counts.
        .where(table.c.status == "succeeded", table.c.kind.in_(("charge", "authorization")))
        .group_by(table.c.order_id)
    )
    return {
        order_id: SucceededPayments(order_id, int(amount), tuple(sorted(currencies)))
        for order_id, amount, currencies in rows
    }


async def fulfillment_orders(
    connection: AsyncConnection, *, order_ids: Iterable[str] | None = None
) -> list[FulfillmentOrderState]:
    table = fulfillment.fulfillment_orders
    query = sa.select(
        table.c.id, table.c.order_id, table.c.location, table.c.status, table.c.created_at, table.c.group_key
    )
    if order_ids is not None:
        query = query.where(table.c.order_id.in_(list(order_ids)))
    return [
        FulfillmentOrderState(*row) for row in await connection.execute(query.order_by(table.c.created_at))
    ]


async def unpublished_outbox_rows(
    connection: AsyncConnection, service: str, *, created_before: datetime
) -> list[UnpublishedOutboxRow]:
    table = OUTBOXES[service]
    rows = await connection.execute(
        sa.select(table.c.id, table.c.message_id, table.c.message_type, table.c.created_at)
        .where(table.c.published_at.is_(None), table.c.created_at < created_before)
        .order_by(table.c.id)
    )
    return [UnpublishedOutboxRow(service, *row) for row in rows]


async def draft_holds(connection: AsyncConnection) -> list[DraftHold]:
    table = orders.draft_orders
    rows = await connection.execute(
        sa.select(
            table.c.id,
            table.c.status,
            table.c.reservation_id,
            table.c.reservation_status,
            table.c.earlier_reservations,
            table.c.updated_at,
        )
    )
    return [
        DraftHold(
            draft_id=row.id,
            status=row.status,
            reservation_id=row.reservation_id,
            reservation_status=row.reservation_status,
            earlier_reservations=tuple(row.earlier_reservations or ()),
            updated_at=row.updated_at,
        )
        for row in rows
    ]


async def reserved_by_reservation(connection: AsyncConnection) -> dict[str, int]:
    """Units catalog holds (status reserved) under each reservation (an order's or a draft's id)."""
    table = catalog.reservations
    rows = await connection.execute(
        sa.select(table.c.order_id, sa.func.sum(table.c.quantity))
        .where(table.c.status == "reserved")
        .group_by(table.c.order_id)
    )
    return {reservation_id: int(total) for reservation_id, total in rows}


async def shipment_groups(connection: AsyncConnection) -> list[ShipmentGroupState]:
    groups, order_rows = orders.shipment_groups, orders.orders
    rows = await connection.execute(
        sa.select(
            groups.c.id,
            groups.c.order_id,
            order_rows.c.status,
            groups.c.kind,
            groups.c.status,
            groups.c.fulfillment_id,
            groups.c.shipped_at,
            groups.c.delivered_at,
            groups.c.stock_committed_at,
        )
        .join(order_rows, order_rows.c.id == groups.c.order_id)
        .order_by(groups.c.created_at, groups.c.id)
    )
    return [ShipmentGroupState(*row) for row in rows]


Place = tuple[str, str]
"""A SKU at a location."""


async def committed_by_order(connection: AsyncConnection) -> dict[str, Counter[Place]]:
    """Units catalog took off hand for each order's shipments, per SKU and location."""
    table = catalog.reservations
    rows = await connection.execute(
        sa.select(table.c.order_id, table.c.sku, table.c.location, table.c.committed).where(
            table.c.committed > 0
        )
    )
    committed: dict[str, Counter[Place]] = {}
    for order_id, sku, location, units in rows:
        committed.setdefault(order_id, Counter())[(sku, location)] += int(units)
    return committed


async def shipped_by_order(
    connection: AsyncConnection, *, since: datetime
) -> tuple[dict[str, Counter[Place]], set[str]]:
    """Units orders asked catalog to commit, per order, SKU and location: what each recorded shipment took
    and what its pick was short (a group picked short of everything commits its short units alone); and the
    orders that asked ``since`` (their commit may still be on its way)."""
    groups = orders.shipment_groups
    rows = await connection.execute(
        sa.select(
            groups.c.order_id,
            groups.c.shipped_lines,
            groups.c.short_lines,
            groups.c.stock_committed_at,
            groups.c.short_picked_at,
        ).where(
            sa.or_(
                groups.c.stock_committed_at.is_not(None),
                sa.and_(groups.c.short_picked_at.is_not(None), groups.c.status == "cancelled"),
            )
        )
    )
    shipped: dict[str, Counter[Place]] = {}
    recent: set[str] = set()
    for order_id, shipped_lines, short_lines, committed_at, short_at in rows:
        units = shipped.setdefault(order_id, Counter())
        for line in [*(shipped_lines or []), *(short_lines or [])]:
            units[(line["sku"], line["location"])] += int(line["quantity"])
        if max(time for time in (committed_at, short_at) if time is not None) >= since:
            recent.add(order_id)
    return shipped, recent


async def hold_ledgers(connection: AsyncConnection) -> list[HoldLedger]:
    """Every card hold's ledger entries (its own, and its captures'), in the order they were recorded."""
    entries, table = payments.ledger_entries, payments.payments
    hold_id = sa.func.coalesce(table.c.authorization_id, table.c.id)
    rows = await connection.execute(
        sa.select(hold_id.label("hold_id"), entries.c.order_id, entries.c.kind, entries.c.amount)
        .join(table, table.c.id == entries.c.payment_id)
        .where(
            sa.or_(
                table.c.kind == "authorization",
                sa.and_(table.c.kind == "capture", table.c.authorization_id.is_not(None)),
            )
        )
        .order_by(entries.c.id)
    )
    movements: dict[tuple[uuid.UUID, str], list[HoldMovement]] = {}
    for hold, order_id, kind, amount in rows:
        movements.setdefault((hold, order_id), []).append(HoldMovement(kind, int(amount)))
    return [
        HoldLedger(hold, order_id, tuple(moved))
        for (hold, order_id), moved in sorted(
            movements.items(), key=lambda item: (item[0][1], str(item[0][0]))
        )
    ]


async def unpaid_holds(connection: AsyncConnection) -> list[UnpaidHold]:
    """Orders whose lapsed hold was replaced by an off-session charge that failed, with none succeeding."""
    table = payments.payments
    paid = sa.select(table.c.order_id).where(table.c.kind == "replacement", table.c.status == "succeeded")
    rows = await connection.execute(
        sa.select(
            table.c.order_id, table.c.amount, table.c.currency, table.c.decline_code, table.c.created_at
        )
        .where(table.c.kind == "replacement", table.c.status == "failed", table.c.order_id.not_in(paid))
        .order_by(table.c.created_at)
    )
    return [
        UnpaidHold(order_id, int(amount), currency, code or "declined", at)
        for order_id, amount, currency, code, at in rows
    ]
