"""What a warehouse reports through the gateway: pick requests it works on, each step of a parcel, returns."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from shop_storefront.calls import Caller, Retry, expect
from shop_storefront.staff import HOME
from shop_storefront.values import api_key

CARRIER = "CJ Logistics"


def steps_to_delivered(tracking_number: str, *, carrier: str = CARRIER) -> list[dict[str, Any]]:
    """The events a warehouse reports for a parcel, in order, from picked to delivered."""
    return [
        {"type": "picked"},
        {"type": "packed"},
        {"type": "shipped", "carrier": carrier, "tracking_number": tracking_number},
        {"type": "delivered"},
    ]


class Warehouse(Caller):
    """The warehouse API with a warehouse API key."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        key: str,
        *,
        retry: Retry | None = None,
        in_flight: asyncio.Semaphore | None = None,
    ) -> None:
        super().__init__(http, headers=api_key(key), retry=retry, in_flight=in_flight)

    async def pick_requests(self, location: str = HOME) -> httpx.Response:
        return await self.get("/v1/warehouse/pick-requests", params={"location": location})

    async def report(self, fulfillment_id: str, event: Mapping[str, Any]) -> httpx.Response:
        """One step of a fulfillment (picked, packed, shipped with carrier and tracking, delivered); 200."""
        return await self.post(f"/v1/warehouse/fulfillments/{fulfillment_id}/events", dict(event))

    async def ship_and_deliver(
        self, fulfillment_id: str, tracking_number: str, *, carrier: str = CARRIER
    ) -> None:
        """Report every step from picked to delivered; UnexpectedAnswer if one is not answered 200."""
        for event in steps_to_delivered(tracking_number, carrier=carrier):
            expect(await self.report(fulfillment_id, event), 200)

    async def receive_return(self, return_id: str, lines: Sequence[Mapping[str, Any]]) -> httpx.Response:
        """The returned parcel arrived: each line's SKU, quantity and condition (resellable or damaged)."""
        return await self.post(
            f"/v1/warehouse/returns/{return_id}/received", {"lines": [dict(line) for line in lines]}
        )
