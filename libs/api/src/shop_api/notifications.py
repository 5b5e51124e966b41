"""The client of notifications' internal API (the delivery log of an order, and its parked messages)."""

from __future__ import annotations

import httpx

from shop_api.transport import Id, ServiceClient


class NotificationsClient(ServiceClient):
    """Notifications' internal API."""

    async def notifications_of_order(self, order_id: Id) -> httpx.Response:
        return await self._call("GET", "/notifications", params={"order_id": str(order_id)})
