"""Products and variants as the other modules read and lock them: which SKUs exist and may be sold, a variant's
listing and record (its prices and version), and a product with its SKUs."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_catalog.domain.products import Sellability
from shop_catalog.tables import (
    prices,
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


async def currencies_of(session: AsyncSession, sku: str) -> set[str]:
    """The currencies a variant has a price in."""
    rows = await session.execute(
        sa.select(prices.c.currency)
        .join(variants, variants.c.id == prices.c.variant_id)
        .where(variants.c.sku == sku)
    )
    return {str(currency) for (currency,) in rows}


async def sellability(session: AsyncSession, skus: Iterable[str]) -> dict[str, Sellability]:
    """Whether each known SKU may be sold now (not retired, its product not archived), as this transaction sees it."""
    rows = await session.execute(
        sa.select(variants.c.sku, variants.c.retired_at, products.c.archived_at)
        .join(products, products.c.id == variants.c.product_id)
        .where(variants.c.sku.in_(sorted(set(skus))))
    )
    return {row.sku: Sellability(retired_at=row.retired_at, archived_at=row.archived_at) for row in rows}


@dataclass(frozen=True)
class VariantRecord:
    """A variant with its product's title and archive state, and its prices: what VariantUpdated tells."""

    variant_id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    title: str
    options: dict[str, str]
    prices: dict[str, int]
    version: int
    sellability: Sellability


async def lock_variant(session: AsyncSession, sku: str) -> VariantRecord | None:
    """The variant, its row locked to the end of the transaction (None when no variant has the SKU)."""
    row = (
        await session.execute(
            sa.select(
                variants.c.id,
                variants.c.product_id,
                variants.c.sku,
                variants.c.options,
                variants.c.version,
                variants.c.retired_at,
                products.c.title,
                products.c.archived_at,
            )
            .join(products, products.c.id == variants.c.product_id)
            .where(variants.c.sku == sku)
            .with_for_update(of=variants)
        )
    ).first()
    if row is None:
        return None
    found = await session.execute(
        sa.select(prices.c.currency, prices.c.amount).where(prices.c.variant_id == row.id)
    )
    return VariantRecord(
        variant_id=row.id,
        product_id=row.product_id,
        sku=row.sku,
        title=row.title,
        options=dict(row.options),
        prices={currency: int(amount) for currency, amount in sorted(found.all())},
        version=row.version,
        sellability=Sellability(retired_at=row.retired_at, archived_at=row.archived_at),
    )


async def next_variant_version(session: AsyncSession, sku: str) -> int:
    """Bump the variant's version (the caller holds its row lock): each VariantUpdated carries a higher one."""
    version = (
        await session.execute(
            sa.update(variants)
            .where(variants.c.sku == sku)
            .values(version=variants.c.version + 1)
            .returning(variants.c.version)
        )
    ).scalar_one()
    return int(version)


async def set_prices(session: AsyncSession, variant_id: uuid.UUID, amounts: dict[str, int]) -> None:
    """Set the variant's price in each currency named; prices in other currencies stay."""
    if not amounts:
        return
    statement = insert(prices).values(
        [
            {"variant_id": variant_id, "currency": currency, "amount": amount}
            for currency, amount in amounts.items()
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[prices.c.variant_id, prices.c.currency],
            set_={"amount": statement.excluded.amount},
        )
    )


@dataclass(frozen=True)
class ProductRecord:
    id: uuid.UUID
    title: str
    description: str
    archived_at: datetime | None
    skus: list[str]
    """Its variants' SKUs, in SKU order (the order their rows are locked in)."""


async def lock_product(session: AsyncSession, product_id: uuid.UUID) -> ProductRecord | None:
    """The product, its row locked to the end of the transaction, with its variants' SKUs."""
    row = (
        await session.execute(sa.select(products).where(products.c.id == product_id).with_for_update())
    ).first()
    if row is None:
        return None
    skus = await session.execute(
        sa.select(variants.c.sku).where(variants.c.product_id == product_id).order_by(variants.c.sku)
    )
    return ProductRecord(
        id=row.id,
        title=row.title,
        description=row.description,
        archived_at=row.archived_at,
        skus=list(skus.scalars()),
    )


async def product_skus(session: AsyncSession, product_id: uuid.UUID) -> list[str] | None:
    """The product's SKUs in SKU order, read without a lock; None when there is no such product."""
    found = (await session.execute(sa.select(products.c.id).where(products.c.id == product_id))).first()
    if found is None:
        return None
    skus = await session.execute(
        sa.select(variants.c.sku).where(variants.c.product_id == product_id).order_by(variants.c.sku)
    )
    return list(skus.scalars())


async def next_position(session: AsyncSession, product_id: uuid.UUID) -> int:
    position = (
        await session.execute(
            sa.select(sa.func.coalesce(sa.func.max(variants.c.position) + 1, 0)).where(
                variants.c.product_id == product_id
            )
        )
    ).scalar_one()
    return int(position)
