"""The first statement of an order's reserve (and of a hold at checkout): the order's row locked, made on its first
message together with its reserve request, and what every reserve reads next, in one round trip."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_catalog.domain.products import Sellability
from shop_catalog.repository.preorders import PolicyRecord, policy_record
from shop_catalog.repository.stock import (
    NEW_STOCK_ORDER,
    StockOrder,
    locked_stock_order,
    skus_parameter,
)
from shop_catalog.tables import preorder_policies, products, reserve_requests, variants


@dataclass(frozen=True)
class ReserveStart:
    """The order as ``lock_stock_order`` finds it, and the order's SKUs as one statement read them."""

    order: StockOrder
    request_recorded: bool
    """Its reserve request is recorded (``record_reserve_request`` answered True): the order is new."""
    sellability: dict[str, Sellability]
    """Whether each known SKU may be sold now (``products.sellability``)."""
    policies: dict[str, PolicyRecord]
    """The pre-order policy rows of the known SKUs (``preorder_policies_now``), not locked."""


def _start_reserve() -> sa.Select[Any]:
    """Make the order's row and, only when this made it, record its reserve request; and read the SKUs.

    The request's insert takes the order's id from the order's insert, so it is written only for an order seen
    for the first time (whose request cannot be recorded yet), as ``lock_stock_order`` then
    ``record_reserve_request`` write it. The reads are unlocked, as those of ``sellability`` and
    ``preorder_policies_now``; they see what committed before the statement began. One row per known SKU, or
    one row of NULLs when none is known, each with the two counts (0 or 1).
    """
    new_order = NEW_STOCK_ORDER.cte("new_order")
    first_reserve = (
        insert(reserve_requests)
        .from_select(
            ["order_id", "request_key"],
            sa.select(new_order.c.order_id, sa.bindparam("the_request", type_=sa.Text)),
        )
        .on_conflict_do_nothing(index_elements=[reserve_requests.c.order_id, reserve_requests.c.request_key])
        .returning(reserve_requests.c.order_id)
        .cte("first_reserve")
    )
    opened = sa.select(
        sa.select(sa.func.count()).select_from(new_order).scalar_subquery().label("new"),
        sa.select(sa.func.count()).select_from(first_reserve).scalar_subquery().label("recorded"),
    ).subquery("opened")
    known = (
        sa.select(
            variants.c.sku,
            variants.c.retired_at,
            products.c.archived_at,
            preorder_policies.c.sku.label("policy_sku"),
            *(column for column in preorder_policies.c if column.name != "sku"),
        )
        .join(products, products.c.id == variants.c.product_id)
        .outerjoin(preorder_policies, preorder_policies.c.sku == variants.c.sku)
        .where(variants.c.sku == sa.any_(skus_parameter()))
        .subquery("known")
    )
    return sa.select(opened.c.new, opened.c.recorded, *known.c).select_from(
        opened.outerjoin(known, sa.true())
    )


# Built once: SQLAlchemy keeps its cache key, so each reserve runs it without building or walking it again.
_START_RESERVE = _start_reserve()


async def start_reserve(
    session: AsyncSession, *, order_id: str, request_key: str, skus: Iterable[str]
) -> ReserveStart:
    """Lock the order's row as ``lock_stock_order`` does, recording its reserve request (``request_key``) in the
    same round trip when this is the order's first message, and read its SKUs' sellability and policies. When the
    request is not recorded, the caller records it (or finds it decided) once it has looked at the order."""
    rows = (
        await session.execute(
            _START_RESERVE, {"the_order": order_id, "the_request": request_key, "skus": sorted(set(skus))}
        )
    ).all()
    sellability: dict[str, Sellability] = {}
    policies: dict[str, PolicyRecord] = {}
    for row in rows:
        if row.sku is None:
            continue
        sellability[row.sku] = Sellability(retired_at=row.retired_at, archived_at=row.archived_at)
        if row.policy_sku is not None:
            policies[row.sku] = policy_record(row)
    if rows[0].new:
        order = StockOrder(order_id=order_id, new=True, released=False)
    else:
        order = await locked_stock_order(session, order_id)
    return ReserveStart(
        order=order, request_recorded=bool(rows[0].recorded), sellability=sellability, policies=policies
    )
