"""Read-only views of the catalog for the storefront: products with variants, prices and availability."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shop_catalog.domain import UnknownProduct
from shop_catalog.tables import prices, products, stock_levels, variants


async def list_products(session: AsyncSession, *, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        sa.select(products.c.id).order_by(products.c.created_at, products.c.id).limit(limit).offset(offset)
    )
    return await _products(session, list(rows.scalars()))


async def get_product(session: AsyncSession, product_id: uuid.UUID) -> dict[str, Any]:
    found = await _products(session, [product_id])
    if not found:
        raise UnknownProduct(f"no product {product_id}", field="product_id")
    return found[0]


async def _products(session: AsyncSession, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    if not ids:
        return []
    available = (
        sa.select(
            stock_levels.c.sku,
            sa.func.sum(
                sa.func.greatest(
                    stock_levels.c.on_hand - stock_levels.c.reserved - stock_levels.c.safety_stock, 0
                )
            ).label("available"),
        )
        .group_by(stock_levels.c.sku)
        .subquery()
    )
    product_rows = (await session.execute(sa.select(products).where(products.c.id.in_(ids)))).all()
    variant_rows = (
        await session.execute(
            sa.select(variants, sa.func.coalesce(available.c.available, 0).label("available"))
            .outerjoin(available, available.c.sku == variants.c.sku)
            .where(variants.c.product_id.in_(ids))
            .order_by(variants.c.position)
        )
    ).all()
    price_rows = (
        await session.execute(
            sa.select(prices)
            .where(prices.c.variant_id.in_([row.id for row in variant_rows]))
            .order_by(prices.c.currency)
        )
    ).all()
    prices_by_variant: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for price in price_rows:
        prices_by_variant.setdefault(price.variant_id, []).append(
            {"currency": price.currency, "amount": price.amount}
        )
    variants_by_product: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for variant in variant_rows:
        variants_by_product.setdefault(variant.product_id, []).append(
            {
                "id": variant.id,
                "sku": variant.sku,
                "options": variant.options,
                "prices": prices_by_variant.get(variant.id, []),
                "available": int(variant.available),
            }
        )
    order = {product_id: index for index, product_id in enumerate(ids)}
    return sorted(
        (
            {
                "id": product.id,
                "title": product.title,
                "description": product.description,
                "variants": variants_by_product.get(product.id, []),
            }
            for product in product_rows
        ),
        key=lambda product: order[product["id"]],
    )


async def stock_at_locations(session: AsyncSession, sku: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        sa.select(stock_levels).where(stock_levels.c.sku == sku).order_by(stock_levels.c.location)
    )
    return [
        {
            "location": row.location,
            "on_hand": row.on_hand,
            "reserved": row.reserved,
            "safety_stock": row.safety_stock,
            "available": max(row.on_hand - row.reserved - row.safety_stock, 0),
        }
        for row in rows
    ]
