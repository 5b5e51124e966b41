"""Orders' route for pre-order campaign figures."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shop_orders.preorders import queries as preorder_queries
from shop_runtime.http import UnitOfWorkDep

router = APIRouter()


@router.get("/preorder-metrics")
async def preorder_metrics(
    uow: UnitOfWorkDep, sku: str | None = None, campaign: str | None = None
) -> dict[str, Any]:
    """Orders' part of the pre-order metrics: units, revenue, shares, cancellations, refunds, demand."""
    return await preorder_queries.preorder_metrics(uow.session, sku=sku, campaign=campaign)
