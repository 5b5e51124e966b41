"""Products and variants as the other modules read them: which SKUs exist, and a variant's listing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shop_catalog.tables import (
    products,
    variants,
)


async def existing_skus(session: AsyncSession, skus: list[str]) -> set[str]:
    rows = await session.execute(sa.select(variants.c.sku).where(variants.c.sku.in_(skus)))
    return set(rows.scalars())


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
