"""Low-stock watches, locked and saved inside a unit of work, and the SKUs at or below their threshold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_catalog.domain.low_stock import LowStockWatch
from shop_catalog.repository.stock import skus_parameter
from shop_catalog.tables import low_stock_watches, products, stock_levels, variants

_LOCK_WATCHES = (
    sa.select(low_stock_watches.c.sku, low_stock_watches.c.threshold, low_stock_watches.c.alerted_at)
    .where(low_stock_watches.c.sku == sa.any_(skus_parameter()))
    .order_by(low_stock_watches.c.sku)
    .with_for_update()
)


async def lock_watches(session: AsyncSession, skus: list[str]) -> dict[str, LowStockWatch]:
    """Lock the watches of ``skus`` that exist, in SKU order (callers hold the SKUs' stock locks first)."""
    rows = await session.execute(_LOCK_WATCHES, {"skus": list(skus)})
    return {
        row.sku: LowStockWatch(sku=row.sku, threshold=row.threshold, alerted=row.alerted_at is not None)
        for row in rows
    }


async def create_watches(session: AsyncSession, skus: list[str]) -> None:
    """Watches for ``skus`` following the shop default, where none exists yet."""
    if skus:
        await session.execute(
            insert(low_stock_watches).values([{"sku": sku} for sku in skus]).on_conflict_do_nothing()
        )


async def set_threshold(session: AsyncSession, sku: str, threshold: int | None) -> None:
    await session.execute(
        insert(low_stock_watches)
        .values(sku=sku, threshold=threshold)
        .on_conflict_do_update(
            index_elements=[low_stock_watches.c.sku],
            set_={"threshold": threshold, "updated_at": sa.func.now()},
        )
    )


async def mark_alerted(session: AsyncSession, sku: str, available: int) -> int:
    """The current crossing is alerted (the caller holds the watch's lock and saw it armed); returns the
    number of this alert, counting the SKU's alerts."""
    number = await session.scalar(
        sa.update(low_stock_watches)
        .where(low_stock_watches.c.sku == sku, low_stock_watches.c.alerted_at.is_(None))
        .values(
            alerted_at=sa.func.now(),
            alerted_available=available,
            alerts=low_stock_watches.c.alerts + 1,
            updated_at=sa.func.now(),
        )
        .returning(low_stock_watches.c.alerts)
    )
    assert number is not None, f"the watch of {sku} was alerted already"
    return int(number)


async def rearm(session: AsyncSession, sku: str) -> None:
    await session.execute(
        sa.update(low_stock_watches)
        .where(low_stock_watches.c.sku == sku)
        .values(alerted_at=None, alerted_available=None, updated_at=sa.func.now())
    )


@dataclass(frozen=True)
class LowStockRow:
    sku: str
    title: str
    available: int
    threshold: int
    alerted_at: datetime | None


async def at_or_below_threshold(session: AsyncSession, *, shop_default: int | None) -> list[LowStockRow]:
    """Sellable SKUs whose available units (over all locations) are at or below their threshold, the lowest
    first; SKUs without a threshold of their own follow ``shop_default`` (None: they are not listed)."""
    available = sa.func.sum(
        sa.func.greatest(stock_levels.c.on_hand - stock_levels.c.reserved - stock_levels.c.safety_stock, 0)
    ).label("available")
    per_sku = (
        sa.select(stock_levels.c.sku, available)
        .join(variants, variants.c.sku == stock_levels.c.sku)
        .join(products, products.c.id == variants.c.product_id)
        .where(variants.c.retired_at.is_(None), products.c.archived_at.is_(None))
        .group_by(stock_levels.c.sku)
        .subquery()
    )
    threshold = sa.func.coalesce(low_stock_watches.c.threshold, sa.literal(shop_default, sa.Integer)).label(
        "threshold"
    )
    rows = await session.execute(
        sa.select(
            per_sku.c.sku, products.c.title, per_sku.c.available, threshold, low_stock_watches.c.alerted_at
        )
        .select_from(per_sku)
        .join(variants, variants.c.sku == per_sku.c.sku)
        .join(products, products.c.id == variants.c.product_id)
        .outerjoin(low_stock_watches, low_stock_watches.c.sku == per_sku.c.sku)
        .where(threshold.is_not(None), per_sku.c.available <= threshold)
        .order_by(per_sku.c.available, per_sku.c.sku)
    )
    return [
        LowStockRow(
            sku=row.sku,
            title=row.title,
            available=int(row.available),
            threshold=int(row.threshold),
            alerted_at=row.alerted_at,
        )
        for row in rows
    ]


async def watch_of(session: AsyncSession, sku: str) -> LowStockWatch | None:
    row = (
        await session.execute(
            sa.select(low_stock_watches.c.threshold, low_stock_watches.c.alerted_at).where(
                low_stock_watches.c.sku == sku
            )
        )
    ).one_or_none()
    return (
        None
        if row is None
        else LowStockWatch(sku=sku, threshold=row.threshold, alerted=row.alerted_at is not None)
    )
