"""Loading and saving catalog aggregates inside a unit of work."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_catalog.domain import StockLevel
from shop_catalog.tables import stock_levels, variants


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
