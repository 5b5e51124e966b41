"""Fulfillment's HTTP bodies (the warehouse's reports and return receipts) and the client of its internal API."""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import Field

from shop_api.base import Strict, example
from shop_api.transport import Id, ServiceClient


class PickedLineIn(Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=0, le=10_000, description="Units picked; fewer than asked is a short pick")


class FulfillmentEventIn(Strict):
    model_config = example({"type": "shipped", "carrier": "CJ Logistics", "tracking_number": "CJ1234567890"})

    type: Literal["picked", "packed", "shipped", "delivered"]
    carrier: str | None = Field(default=None, min_length=1, max_length=64)
    tracking_number: str | None = Field(default=None, min_length=1, max_length=64)
    lines: list[PickedLineIn] | None = Field(
        default=None,
        max_length=100,
        description="With picked only: units picked per SKU when fewer than asked (a short pick)",
    )


class ReceivedLineIn(Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=10_000)
    condition: Literal["resellable", "damaged"] = Field(
        description="resellable units go back to stock at the location; damaged units are disposed"
    )


class ReturnReceiptIn(Strict):
    model_config = example({"lines": [{"sku": "SHIRT-LINEN-M", "quantity": 1, "condition": "resellable"}]})

    lines: list[ReceivedLineIn] = Field(min_length=1, max_length=100)


class FulfillmentClient(ServiceClient):
    """Fulfillment's internal API."""

    async def pick_requests(self, *, location: str) -> httpx.Response:
        """Fulfillment orders at a location that still need warehouse work."""
        return await self._call("GET", "/pick-requests", params={"location": location})

    async def report_event(self, fulfillment_id: Id, body: FulfillmentEventIn) -> httpx.Response:
        return await self._call(
            "POST", f"/fulfillments/{fulfillment_id}/events", json=body.model_dump(mode="json")
        )

    async def fulfillments_of_order(self, order_id: Id) -> httpx.Response:
        return await self._call("GET", "/fulfillments", params={"order_id": str(order_id)})

    async def receive_return(self, return_id: Id, body: ReturnReceiptIn) -> httpx.Response:
        return await self._call("POST", f"/returns/{return_id}/received", json=body.model_dump(mode="json"))
