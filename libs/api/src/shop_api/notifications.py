"""Notifications' bodies and the client of its internal API: the delivery log of an order, its parked messages,
and a customer's message preferences (one-click unsubscribe, reading and changing them with a link's token)."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import Field, field_validator

from shop_api.base import Answer, Strict, example
from shop_api.transport import Id, ServiceClient

Category = Literal["transactional", "preorder_updates", "waitlist", "marketing"]
"""What kind of message an email is; transactional email (orders, payments, shipping, refunds, invoices) is always
sent."""

ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"
"""RFC 8058: a mail client's unsubscribe button POSTs ``List-Unsubscribe=One-Click`` (form-encoded) to the link."""


class PreferencesIn(Strict):
    """Which emails an address gets, every category a customer may turn off (``transactional`` may be named, and
    only as true)."""

    model_config = example({"preorder_updates": True, "waitlist": False, "marketing": False})

    preorder_updates: bool = Field(description="Pre-order openings and other pre-order news")
    waitlist: bool = Field(description="Waitlist and back-in-stock emails")
    marketing: bool = Field(description="Offers and news; true gives consent to them")
    transactional: bool | None = Field(
        default=None, description="Orders, payments, shipping, refunds and invoices: always sent"
    )

    @field_validator("transactional")
    @classmethod
    def _transactional_stays_on(cls, value: bool | None) -> bool | None:
        if value is False:
            raise ValueError(
                "transactional email (confirmations, shipping, cancellations, refunds, payments, invoices) is "
                "always sent and cannot be turned off"
            )
        return value


class PreferencesOut(Answer):
    """What an address gets, per category."""

    email: str = Field(description="The address, as preferences are kept: trimmed and in lower case")
    transactional: Literal[True] = True
    preorder_updates: bool
    waitlist: bool
    marketing: bool


class UnsubscribedOut(Answer):
    """The address no longer gets this category; unsubscribing again answers the same."""

    email: str
    category: Category
    subscribed: Literal[False] = False


class NotificationsClient(ServiceClient):
    """Notifications' internal API."""

    async def notifications_of_order(self, order_id: Id) -> httpx.Response:
        return await self._call("GET", "/notifications", params={"order_id": str(order_id)})

    async def unsubscribe(self, token: str) -> httpx.Response:
        """One-click unsubscribe: the token names the address and the category."""
        return await self._call("POST", "/unsubscribe", params={"token": token})

    async def preferences(self, token: str) -> httpx.Response:
        return await self._call("GET", "/preferences", params={"token": token})

    async def change_preferences(self, token: str, body: PreferencesIn) -> httpx.Response:
        sent: dict[str, Any] = body.model_dump(mode="json", exclude_none=True)
        return await self._call("PUT", "/preferences", params={"token": token}, json=sent)

    async def page_link(self, token: str) -> httpx.Response:
        """What the token of an email's link to a customer's page opens (page, order or draft, locale, expiry)."""
        return await self._call("GET", "/page-links", params={"token": token})
