"""Staff routes for low-stock alerts: the SKUs at or below their threshold, and setting a SKU's threshold."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from shop_api.catalog import LowStockOut, LowStockThresholdIn, LowStockWatchOut
from shop_gateway.api import ALWAYS, STAFF_CALL, ServicesDep, SkuPath, problems, require
from shop_gateway.domain import Permission
from shop_gateway.services import passed_on

router = APIRouter(prefix="/v1", responses=problems(*ALWAYS), tags=["admin"])


@router.get(
    "/admin/inventory/low-stock",
    summary="List SKUs at or below their low-stock threshold",
    dependencies=[require(Permission.ADMIN_READ)],
    responses={**STAFF_CALL, 200: {"model": LowStockOut}},
)
async def list_low_stock(services: ServicesDep) -> JSONResponse:
    """Sellable SKUs whose available units (on hand less reserved less safety stock, over all locations) are at or
    below their threshold (their own, else the shop default), the lowest first, with when staff were alerted."""
    return passed_on(await services.catalog.low_stock())


@router.put(
    "/admin/inventory/{sku}/low-stock-threshold",
    summary="Set a SKU's low-stock threshold",
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses={**STAFF_CALL, 200: {"model": LowStockWatchOut}},
)
async def set_low_stock_threshold(
    sku: SkuPath, body: LowStockThresholdIn, services: ServicesDep
) -> JSONResponse:
    """Staff are emailed once when the SKU's available units fall from above the threshold to it or below, and
    again only after they were back above it. A SKU already at or below a new threshold alerts at once; null
    follows the shop default."""
    return passed_on(await services.catalog.set_low_stock_threshold(sku, body))
