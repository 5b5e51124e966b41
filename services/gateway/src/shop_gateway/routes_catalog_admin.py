"""Staff routes that run the catalog: changing a product, adding and retiring variants, prices now or at a set
time, archiving and restoring a product, safety stock, and a SKU's stock per location."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response

from shop_api.base import SKU_PATTERN
from shop_api.catalog import PriceChangeIn, ProductChangeIn, SafetyStockIn, VariantIn
from shop_gateway.api import ALWAYS, STAFF_CALL, ServicesDep, SkuPath, problems, require
from shop_gateway.domain import Permission
from shop_gateway.services import passed_on

router = APIRouter(prefix="/v1", responses=problems(*ALWAYS), tags=["admin"])

LocationPath = Annotated[str, Path(min_length=1, max_length=64, pattern=SKU_PATTERN)]


@router.get(
    "/admin/products",
    summary="List every product with its status",
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def list_products_for_staff(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSONResponse:
    """Every product, archived ones too, with each variant's status (active or retired) and whether it sells."""
    return passed_on(await services.catalog.staff_products(limit=limit, offset=offset))


@router.get(
    "/admin/products/{product_id}",
    summary="Show a product with its status",
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def get_product_for_staff(product_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """A product as staff see it: archived or not, retired variants too, each variant's version."""
    return passed_on(await services.catalog.staff_product(product_id))


@router.patch(
    "/admin/products/{product_id}",
    summary="Change a product's title or description",
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def change_product(product_id: uuid.UUID, body: ProductChangeIn, services: ServicesDep) -> JSONResponse:
    """Change the fields given (title, description); a new title reaches new orders' lines."""
    return passed_on(await services.catalog.change_product(product_id, body))


@router.post(
    "/admin/products/{product_id}/variants",
    summary="Add a variant to a product",
    status_code=201,
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def add_variant(product_id: uuid.UUID, body: VariantIn, services: ServicesDep) -> JSONResponse:
    """Add a variant (SKU, options, prices per currency); it sells once stock is counted in. 409 for a SKU in use."""
    return passed_on(await services.catalog.add_variant(product_id, body))


@router.post(
    "/admin/variants/{sku}/retire",
    summary="Stop selling a variant for good",
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def retire_variant(sku: SkuPath, services: ServicesDep) -> JSONResponse:
    """Retire a variant: checkouts of it are refused from now on (409), its open pre-order window ends; orders
    placed before keep their units. Retiring it again changes nothing."""
    return passed_on(await services.catalog.retire_variant(sku))


@router.post(
    "/admin/products/{product_id}/archive",
    summary="Take a product off sale and out of the listing",
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def archive_product(product_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """Archive a product: it leaves the storefront's listing and its variants may not be ordered, until restored."""
    return passed_on(await services.catalog.archive_product(product_id))


@router.post(
    "/admin/products/{product_id}/restore",
    summary="Put an archived product back on sale",
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def restore_product(product_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """Restore an archived product: listed and sold again; waitlists of variants in stock are told."""
    return passed_on(await services.catalog.restore_product(product_id))


@router.post(
    "/admin/variants/{sku}/price-changes",
    summary="Change a variant's prices now or at a set time",
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses={202: {"description": "Scheduled: the prices change at effective_at"}, **STAFF_CALL},
)
async def change_prices(sku: SkuPath, body: PriceChangeIn, services: ServicesDep) -> JSONResponse:
    """New prices in the currencies named (the others stay): applied now (200) or, with ``effective_at`` in the
    future, scheduled (202). Checkouts after the change pay the new price; orders placed before keep theirs."""
    return passed_on(await services.catalog.change_prices(sku, body))


@router.get(
    "/admin/variants/{sku}/price-changes",
    summary="List a variant's scheduled price changes",
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def list_price_changes(sku: SkuPath, services: ServicesDep) -> JSONResponse:
    """Price changes still waiting for their time, soonest first."""
    return passed_on(await services.catalog.price_changes(sku))


@router.delete(
    "/admin/variants/{sku}/price-changes/{change_id}",
    summary="Cancel a scheduled price change",
    status_code=204,
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def cancel_price_change(sku: SkuPath, change_id: uuid.UUID, services: ServicesDep) -> Response:
    """Cancel a price change that has not come due (404 once it applied or was cancelled)."""
    response = await services.catalog.cancel_price_change(sku, change_id)
    if response.status_code == 204:
        return Response(status_code=204)
    return passed_on(response)


@router.put(
    "/admin/inventory/{sku}/locations/{location}/safety-stock",
    summary="Keep units of a SKU back from sale at a location",
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def set_safety_stock(
    sku: SkuPath, location: LocationPath, body: SafetyStockIn, services: ServicesDep
) -> JSONResponse:
    """Set a location's safety stock for a SKU: available becomes on hand less reserved less safety stock (never
    below 0). Units already reserved stay reserved; checkouts beyond what is available are refused."""
    return passed_on(await services.catalog.set_safety_stock(sku, location, body))


@router.get(
    "/admin/inventory/{sku}",
    summary="Show a SKU's stock per location",
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def stock_of_sku(sku: SkuPath, services: ServicesDep) -> JSONResponse:
    """On hand, reserved, safety stock, available and incoming (inbounds not yet received) per location, and
    totals; available is 0 while the variant is retired or its product archived."""
    return passed_on(await services.catalog.stock_levels(sku))
