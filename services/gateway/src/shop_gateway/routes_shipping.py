"""Public route for shipping: the methods a cart can ship by to an address, with their prices and the total."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shop_gateway.api import ServicesDep, problems, stock_at_locations
from shop_gateway.schemas import AddressIn, Currency, LineIn, Strict, example

router = APIRouter(prefix="/v1", responses=problems(400, 413, 422, 503))


class ShippingRatesIn(Strict):
    model_config = example(
        {
            "currency": "KRW",
            "lines": [{"sku": "SHIRT-LINEN-M", "quantity": 2}],
            "shipping_address": {
                "name": "Kim Minsu",
                "line1": "1 Teheran-ro",
                "city": "Seoul",
                "postal_code": "06236",
                "country": "KR",
            },
        }
    )

    currency: Currency
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    shipping_address: AddressIn


class ShippingMethodOut(BaseModel):
    method: str = Field(examples=["same_day"])
    available: bool
    reason: str | None = Field(description="Why the method is not offered here; null when it is")
    shipping: int | None = Field(description="What shipping costs by this method, minor units")
    tax: int | None = Field(description="The tax of the order by this method (added on top or included)")
    tax_included: bool | None
    total: int | None = Field(
        description="Subtotal + shipping (+ tax where it comes on top), before a discount code"
    )


class ShippingRatesOut(BaseModel):
    currency: str
    subtotal: int
    methods: list[ShippingMethodOut]


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
    sent = body.model_dump(mode="json")
    sent["stock_at_locations"] = await stock_at_locations(services, [line.sku for line in body.lines])
    return await services.forward("orders", "POST", "/shipping-rates", json=sent)
