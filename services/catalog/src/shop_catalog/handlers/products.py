"""Products and their variants: creating them (each variant's prices told to the other services), a product
view, and finding a SKU or saying it is unknown."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from shop_catalog.domain.errors import DuplicateSku, UnknownSku
from shop_catalog.repository import products as product_records
from shop_catalog.tables import (
    prices,
    product_views,
    products,
    variants,
)
from shop_contracts import catalog as contracts
from shop_contracts.money import Money
from shop_runtime.clock import Clock
from shop_runtime.database import UnitOfWork


@dataclass(frozen=True)
class NewVariant:
    sku: str
    options: dict[str, str]
    prices: dict[str, int]
    """Amount in minor units by ISO 4217 currency code."""


@dataclass(frozen=True)
class CreatedProduct:
    product_id: uuid.UUID
    variant_ids: dict[str, uuid.UUID]


async def create_product(
    uow: UnitOfWork, *, title: str, description: str, new_variants: list[NewVariant]
) -> CreatedProduct:
    """Create a product with its variants and tell other services what each variant sells for."""
    skus = [variant.sku for variant in new_variants]
    taken = await product_records.existing_skus(uow.session, skus)
    if taken:
        index = next(i for i, sku in enumerate(skus) if sku in taken)
        raise DuplicateSku(f"SKU {skus[index]!r} already exists", field=f"variants[{index}].sku")
    product_id = uuid.uuid4()
    await uow.session.execute(sa.insert(products).values(id=product_id, title=title, description=description))
    variant_ids: dict[str, uuid.UUID] = {}
    for position, variant in enumerate(new_variants):
        variant_id = uuid.uuid4()
        variant_ids[variant.sku] = variant_id
        await uow.session.execute(
            sa.insert(variants).values(
                id=variant_id,
                product_id=product_id,
                sku=variant.sku,
                options=variant.options,
                position=position,
            )
        )
        if variant.prices:
            await uow.session.execute(
                sa.insert(prices),
                [{"variant_id": variant_id, "currency": c, "amount": a} for c, a in variant.prices.items()],
            )
        uow.publish(
            contracts.VariantUpdated(
                product_id=str(product_id),
                variant_id=str(variant_id),
                sku=variant.sku,
                title=title,
                options=variant.options,
                prices=[Money(amount=a, currency=c) for c, a in variant.prices.items()],
                version=1,
            ),
            subject=variant.sku,
        )
    return CreatedProduct(product_id=product_id, variant_ids=variant_ids)


async def record_product_view(uow: UnitOfWork, *, product_id: uuid.UUID, sku: str, clock: Clock) -> None:
    """Count one storefront view of a variant (the first step of the pre-order conversion)."""
    found = (
        await uow.session.execute(
            sa.select(variants.c.product_id).where(variants.c.sku == sku, variants.c.product_id == product_id)
        )
    ).first()
    if found is None:
        raise UnknownSku(f"product {product_id} has no variant with SKU {sku!r}", field="sku")
    await uow.session.execute(
        sa.insert(product_views).values(product_id=product_id, sku=sku, viewed_at=clock.now())
    )


async def require_sku(uow: UnitOfWork, sku: str) -> None:
    if not await product_records.existing_skus(uow.session, [sku]):
        raise UnknownSku(f"no variant has SKU {sku!r}", field="sku")
