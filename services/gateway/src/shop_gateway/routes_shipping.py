"""Public route for shipping: the methods a cart can ship by to an address, with their prices and the total."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from shop_api.orders.checkout import QuoteShippingIn, ShippingRatesIn, ShippingRatesOut
from shop_gateway.api import ServicesDep, problems, stock_at_locations
from shop_gateway.services import passed_on

router = APIRouter(prefix="/v1", responses=problems(400, 413, 422, 503))


@router.post(
    "/shipping-rates",
    summary="Quote shipping for a cart",
    tags=["storefront"],
    responses={200: {"model": ShippingRatesOut, "description": "Every shipping method, offered or not"}},
)
async def quote_shipping_rates(body: ShippingRatesIn, services: ServicesDep) -> JSONResponse:
    """The shipping methods for a cart and a shipping address: standard, express and same_day, each with its
    price and the order's tax and total, or ``available: false`` and the reason (same-day needs an address a
    stock location delivers to the same day and every line in stock at that one location). Standard shipping
    is free from the currency's threshold."""
    stock = await stock_at_locations(services, [line.sku for line in body.lines])
    return passed_on(await services.orders.quote_shipping(QuoteShippingIn.of(body, stock_at_locations=stock)))
