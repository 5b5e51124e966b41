"""Keeping orders' copy of catalog's variants, availability and pre-order policies current, newest version wins."""

from __future__ import annotations

from shop_contracts.values import PreorderPolicy
from shop_orders.core import repository
from shop_runtime.database import UnitOfWork


async def upsert_catalog_variant(
    uow: UnitOfWork,
    *,
    sku: str,
    product_id: str,
    variant_id: str,
    title: str,
    options: dict[str, str],
    prices: dict[str, int],
    version: int,
    sellable: bool = True,
) -> None:
    await repository.upsert_variant(
        uow.session,
        {
            "sku": sku,
            "product_id": product_id,
            "variant_id": variant_id,
            "title": title,
            "options": options,
            "prices": prices,
            "version": version,
            "sellable": sellable,
        },
    )


async def record_availability(
    uow: UnitOfWork,
    *,
    sku: str,
    in_stock_units: int,
    preorder_units_left: int | None,
    policy_version: int | None,
    version: int,
) -> None:
    """Keep what catalog says a SKU can still sell, so checkout refuses at once what it rules out."""
    await repository.upsert_availability(
        uow.session,
        {
            "sku": sku,
            "in_stock_units": in_stock_units,
            "preorder_units_left": preorder_units_left,
            "policy_version": policy_version,
            "version": version,
        },
    )


async def upsert_preorder_policy(
    uow: UnitOfWork, *, sku: str, policy: PreorderPolicy | None, version: int
) -> None:
    await repository.upsert_preorder_policy(
        uow.session, sku, policy.model_dump(mode="json") if policy else None, version
    )
