"""Catalog's internal HTTP routes for low-stock alerts: the SKUs at or below their threshold, and setting one.

A router of its own, registered before ``api.router`` so ``/inventory/low-stock`` is not read as a SKU."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shop_api.catalog import LowStockItem, LowStockOut, LowStockThresholdIn, LowStockWatchOut
from shop_catalog.domain.errors import CatalogError, UnknownSku
from shop_catalog.handlers import low_stock
from shop_catalog.repository import low_stock as low_stock_records
from shop_runtime.http import UnitOfWorkDep, committed
from shop_runtime.problems import Problem

router = APIRouter()


@router.get("/inventory/low-stock")
async def low_stock_skus(uow: UnitOfWorkDep) -> LowStockOut:
    rows = await low_stock_records.at_or_below_threshold(
        uow.session, shop_default=low_stock.SHOP_DEFAULTS.threshold
    )
    return LowStockOut(
        items=[
            LowStockItem(
                sku=row.sku,
                title=row.title,
                available=row.available,
                threshold=row.threshold,
                alerted_at=row.alerted_at,
            )
            for row in rows
        ]
    )


@router.put("/inventory/{sku}/low-stock-threshold")
async def set_low_stock_threshold(
    sku: str, body: LowStockThresholdIn, uow: UnitOfWorkDep
) -> LowStockWatchOut:
    try:
        state = await committed(
            uow, low_stock.set_low_stock_threshold(uow, sku=sku, threshold=body.threshold)
        )
    except CatalogError as error:
        raise _problem(error) from error
    return LowStockWatchOut(
        sku=state.sku,
        threshold=state.threshold,
        own_threshold=state.own_threshold,
        available=state.available,
        alerted=state.alerted,
    )


def _problem(error: CatalogError) -> Problem:
    status, code = (404, "unknown_sku") if isinstance(error, UnknownSku) else (409, "conflict")
    errors: list[dict[str, Any]] | None = (
        [{"field": error.field, "message": str(error)}] if error.field else None
    )
    return Problem(status, str(error), code=code, errors=errors)
