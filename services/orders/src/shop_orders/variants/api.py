"""Orders' route for a variant as orders knows it (prices, availability, pre-order policy)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shop_orders.core import repository
from shop_runtime.http import UnitOfWorkDep
from shop_runtime.problems import Problem

router = APIRouter()


@router.get("/variants/{sku}")
async def variant_as_orders_knows_it(sku: str, uow: UnitOfWorkDep) -> dict[str, Any]:
    """Orders' copy of a variant's prices and pre-order policy (kept current by catalog's events)."""
    variants = await repository.variants_by_sku(uow.session, [sku])
    if sku not in variants:
        raise Problem(404, f"orders has not heard of {sku} yet", code="unknown_sku")
    variant = variants[sku]
    return {
        "sku": variant.sku,
        "title": variant.title,
        "prices": variant.prices,
        "preorder_policy": variant.preorder_policy.model_dump(mode="json")
        if variant.preorder_policy
        else None,
    }
