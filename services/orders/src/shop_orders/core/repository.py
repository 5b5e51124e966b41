"""Loading and saving orders inside a unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from shop_contracts.values import PreorderPolicy
from shop_orders.core.domain import Availability, CatalogVariant, OrderStatus
from shop_orders.core.errors import UnknownDiscountCode, UnknownOrder
from shop_orders.core.pricing import check_discount_code
from shop_orders.core.tables import (
    catalog_availability,
    catalog_preorder_policies,
    catalog_variants,
    discount_codes,
    order_lines,
    order_timeline,
    orders,
)


async def variants_by_sku(session: AsyncSession, skus: list[str]) -> dict[str, CatalogVariant]:
    """Orders' copy of the variants: prices, pre-order policies and what catalog last said is left."""
    rows = await session.execute(
        sa.select(
            catalog_variants,
            catalog_preorder_policies.c.policy,
            catalog_preorder_policies.c.version.label("policy_version"),
            catalog_availability.c.in_stock_units,
            catalog_availability.c.preorder_units_left,
            catalog_availability.c.policy_version.label("availability_policy_version"),
            catalog_availability.c.version.label("availability_version"),
        )
        .outerjoin(catalog_preorder_policies, catalog_preorder_policies.c.sku == catalog_variants.c.sku)
        .outerjoin(catalog_availability, catalog_availability.c.sku == catalog_variants.c.sku)
        .where(catalog_variants.c.sku.in_(skus))
    )
    return {
        row.sku: CatalogVariant(
            sku=row.sku,
            title=row.title,
            prices=dict(row.prices),
            preorder_policy=PreorderPolicy.model_validate(row.policy) if row.policy else None,
            policy_version=row.policy_version,
            availability=None
            if row.availability_version is None
            else Availability(
                in_stock_units=row.in_stock_units,
                preorder_units_left=row.preorder_units_left,
                policy_version=row.availability_policy_version,
            ),
        )
        for row in rows
    }


async def upsert_availability(session: AsyncSession, values: dict[str, Any]) -> None:
    """Keep catalog's newest word on a SKU's availability; an older one arriving late changes nothing."""
    statement = insert(catalog_availability).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[catalog_availability.c.sku],
            set_={key: statement.excluded[key] for key in values if key != "sku"},
            where=catalog_availability.c.version < statement.excluded.version,
        )
    )


async def upsert_preorder_policy(
    session: AsyncSession, sku: str, policy: dict[str, Any] | None, version: int
) -> None:
    """Keep the newest version of a variant's pre-order policy; an older event arriving late changes nothing."""
    statement = insert(catalog_preorder_policies).values(sku=sku, policy=policy, version=version)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[catalog_preorder_policies.c.sku],
            set_={"policy": statement.excluded.policy, "version": statement.excluded.version},
            where=catalog_preorder_policies.c.version < statement.excluded.version,
        )
    )


async def upsert_variant(session: AsyncSession, values: dict[str, Any]) -> None:
    """Keep the newest version of a variant; an older event arriving late changes nothing."""
    statement = insert(catalog_variants).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[catalog_variants.c.sku],
            set_={key: statement.excluded[key] for key in values if key != "sku"},
            where=catalog_variants.c.version < statement.excluded.version,
        )
    )


async def lock_order(session: AsyncSession, order_id: str) -> Row[Any]:
    row = await lock_order_if_any(session, order_id)
    if row is None:
        raise UnknownOrder(f"no order {order_id}", field="order_id")
    return row


async def lock_order_if_any(session: AsyncSession, order_id: str) -> Row[Any] | None:
    """The order, locked for this transaction; None when there is no order with this id."""
    row: Row[Any] | None = (
        await session.execute(sa.select(orders).where(orders.c.id == order_id).with_for_update())
    ).first()
    return row


async def order_by_idempotency_key(session: AsyncSession, key: str) -> Row[Any] | None:
    return (await session.execute(sa.select(orders).where(orders.c.idempotency_key == key))).first()


async def set_status(
    session: AsyncSession, order_id: str, status: OrderStatus, reason: str | None = None, **changes: Any
) -> None:
    """Move the order to ``status``, changing its other columns in ``changes`` in the same statement."""
    values: dict[str, Any] = {"status": status.value, "updated_at": sa.func.now(), **changes}
    if reason is not None:
        values["status_reason"] = reason
    await session.execute(sa.update(orders).where(orders.c.id == order_id).values(**values))


async def add_to_timeline(session: AsyncSession, order_id: str, event: str, **detail: Any) -> None:
    await session.execute(sa.insert(order_timeline).values(order_id=order_id, event=event, detail=detail))


async def add_events_to_timeline(
    session: AsyncSession, order_id: str, events: list[tuple[str, dict[str, Any]]]
) -> None:
    """Several timeline events (in this order) in one round trip."""
    await session.execute(
        sa.insert(order_timeline),
        [{"order_id": order_id, "event": event, "detail": detail} for event, detail in events],
    )


async def lines_of(session: AsyncSession, order_id: str) -> list[Row[Any]]:
    rows = await session.execute(
        sa.select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.position)
    )
    return list(rows)


async def redeem_discount_code(session: AsyncSession, *, code: str, order_id: str, now: datetime) -> int:
    """Take a single-use code for a new order and return its percent off; raise why it cannot be used."""
    row = (
        await session.execute(
            sa.select(discount_codes).where(discount_codes.c.code == code).with_for_update()
        )
    ).first()
    if row is None:
        raise UnknownDiscountCode(f"no discount code {code!r}", field="discount_code")
    check_discount_code(code=code, redeemed_by=row.redeemed_by_order, expires_at=row.expires_at, now=now)
    await session.execute(
        sa.update(discount_codes)
        .where(discount_codes.c.code == code)
        .values(redeemed_by_order=order_id, redeemed_at=now)
    )
    return int(row.percent_off)
