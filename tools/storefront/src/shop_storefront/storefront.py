"""What a storefront does for its customers: check out, read and follow an order, cancel, return, sign in, and
change which emails an address gets from the links in them."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from shop_storefront.calls import Caller, expect, is_busy
from shop_storefront.values import bearer

NEW_SKU_PAUSE = 0.1
"""Between checkouts of a SKU that orders has not heard of yet (catalog's event is on its way)."""


@dataclass(frozen=True)
class OrderAccess:
    """What a customer holds to read and act on their order: its id and its access token."""

    order_id: str
    access_token: str


@dataclass(frozen=True)
class Placed:
    """A checkout's last answer, with the Idempotency-Key it was sent with and how many tries it took."""

    key: str
    response: httpx.Response
    tries: int = 1
    turned_away: int = 0
    """503 ``busy`` answers before the last one (each sent again after Retry-After)."""

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def accepted(self) -> bool:
        return self.response.status_code == 202

    def json(self) -> dict[str, Any]:
        """The answer's body: the placed order (id, access_token, status) or a problem."""
        body: dict[str, Any] = self.response.json()
        return body

    @property
    def order_id(self) -> str:
        return str(expect(self.response, 202).json()["id"])

    @property
    def access_token(self) -> str:
        return str(expect(self.response, 202).json()["access_token"])

    @property
    def access(self) -> OrderAccess:
        return OrderAccess(self.order_id, self.access_token)


def unknown_sku(response: httpx.Response) -> bool:
    return response.status_code == 422 and "no product variant has SKU" in response.text


def describe(view: Mapping[str, Any]) -> str:
    """An order view in one line for a failure message: its status and the events of its timeline."""
    return (
        f"status {view.get('status')}, timeline {[entry.get('event') for entry in view.get('timeline', [])]}"
    )


class Storefront(Caller):
    """The public API as a storefront calls it for its customers (no API key; an order's token or a customer's)."""

    async def place(
        self, body: Mapping[str, Any], *, key: str | None = None, wait_for_new_skus: float = 0.0
    ) -> Placed:
        """``POST /v1/orders`` with an Idempotency-Key (a new one unless given), sent again as the retry policy says.

        For ``wait_for_new_skus`` seconds a checkout refused for a SKU orders has not heard of yet is sent again
        too: a product just created reaches orders through catalog's event."""
        key = key or str(uuid.uuid4())
        retry = self.retry
        started = time.monotonic()
        tries = turned_away = 0
        while True:
            try:
                response = await self.once("POST", "/v1/orders", json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError:
                if retry is None or not retry.server_errors or time.monotonic() - started > retry.within:
                    raise
                await asyncio.sleep(retry.pause)
                continue
            tries += 1
            elapsed = time.monotonic() - started
            if unknown_sku(response) and elapsed <= wait_for_new_skus:
                await asyncio.sleep(NEW_SKU_PAUSE)
            elif retry is not None and retry.wants(response) and elapsed <= retry.within:
                turned_away += is_busy(response)
                await asyncio.sleep(retry.delay(response))
            else:
                return Placed(key=key, response=response, tries=tries, turned_away=turned_away)

    async def read_order(self, order: OrderAccess) -> httpx.Response:
        return await self.send("GET", f"/v1/orders/{order.order_id}", headers=bearer(order.access_token))

    async def order(self, order: OrderAccess) -> dict[str, Any]:
        """The order as its customer sees it (status, lines, payments, shipment groups, timeline)."""
        view: dict[str, Any] = expect(await self.read_order(order), 200).json()
        return view

    async def follow(
        self,
        order: OrderAccess,
        reached: str | Callable[[dict[str, Any]], bool],
        *,
        timeout: float = 30.0,
        poll: float = 0.2,
    ) -> dict[str, Any]:
        """Read the order every ``poll`` seconds until ``reached`` (a status, or a test of the view); answer it.

        A read not answered 200 counts as not reached yet. TimeoutError at the deadline, with what was seen."""
        check = (lambda view: view.get("status") == reached) if isinstance(reached, str) else reached
        what = f"status {reached}" if isinstance(reached, str) else "the state asked for"
        deadline = time.monotonic() + timeout
        while True:
            response = await self.read_order(order)
            if response.status_code == 200:
                view: dict[str, Any] = response.json()
                if check(view):
                    return view
                seen = describe(view)
            else:
                seen = f"answer {response.status_code}: {response.text[:300]}"
            if time.monotonic() > deadline:
                raise TimeoutError(f"order {order.order_id} did not reach {what} within {timeout}s; {seen}")
            await asyncio.sleep(poll)

    async def cancel(self, order: OrderAccess, reason: str, **extra: Any) -> httpx.Response:
        return await self.send(
            "POST",
            f"/v1/orders/{order.order_id}/cancel",
            json={"reason": reason, **extra},
            headers=bearer(order.access_token),
        )

    async def request_return(
        self, order: OrderAccess, lines: Sequence[Mapping[str, Any]], reason: str, **extra: Any
    ) -> httpx.Response:
        return await self.send(
            "POST",
            f"/v1/orders/{order.order_id}/returns",
            json={"lines": [dict(line) for line in lines], "reason": reason, **extra},
            headers=bearer(order.access_token),
        )

    async def returns(self, order: OrderAccess) -> httpx.Response:
        return await self.send(
            "GET", f"/v1/orders/{order.order_id}/returns", headers=bearer(order.access_token)
        )

    async def product(self, product_id: str) -> dict[str, Any]:
        shown: dict[str, Any] = expect(await self.get(f"/v1/products/{product_id}"), 200).json()
        return shown

    async def available(self, product_id: str, *, variant: int = 0) -> int:
        """Units of a variant a customer can still buy, as the product page shows them."""
        return int((await self.product(product_id))["variants"][variant]["available"])

    async def sign_up(
        self, *, email: str, password: str, name: str, locale: str = "en", **extra: Any
    ) -> httpx.Response:
        body = {"email": email, "name": name, "password": password, "locale": locale, **extra}
        return await self.post("/v1/customers", body)

    async def sign_in(self, email: str, password: str) -> httpx.Response:
        """``POST /v1/auth/token``: 200 with a bearer ``access_token`` for the customer's own requests."""
        return await self.post("/v1/auth/token", {"email": email, "password": password})

    async def join_waitlist(self, *, sku: str, email: str, locale: str = "en") -> httpx.Response:
        return await self.post("/v1/waitlist", {"sku": sku, "email": email, "locale": locale})

    async def unsubscribe_one_click(self, token: str) -> httpx.Response:
        """``POST /v1/unsubscribe?token=`` as a mail client's unsubscribe button sends it (RFC 8058): no login, the
        form body ``List-Unsubscribe=One-Click``."""
        async with self.in_flight or contextlib.nullcontext():
            return await self.http.post(
                "/v1/unsubscribe",
                params={"token": token},
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )

    async def preferences(self, token: str) -> httpx.Response:
        """``GET /v1/preferences?token=``: which emails the address of an email's preferences link gets."""
        return await self.get("/v1/preferences", params={"token": token})

    async def change_preferences(self, token: str, choices: Mapping[str, bool]) -> httpx.Response:
        """``PUT /v1/preferences?token=``: turn each category on or off (preorder_updates, waitlist, marketing)."""
        return await self.send("PUT", "/v1/preferences", params={"token": token}, json=dict(choices))

    async def shipping_rates(
        self, *, currency: str, lines: Sequence[Mapping[str, Any]], address: Mapping[str, Any]
    ) -> httpx.Response:
        """``POST /v1/shipping-rates``: every shipping method for the cart and address, with its shipping, tax and
        total, or why it is not offered."""
        body = {
            "currency": currency,
            "lines": [dict(line) for line in lines],
            "shipping_address": dict(address),
        }
        return await self.post("/v1/shipping-rates", body)

    async def invoice(self, draft_id: str, token: str) -> httpx.Response:
        """``GET /v1/draft-orders/{id}/invoice`` with the token of the invoice email's link."""
        return await self.send("GET", f"/v1/draft-orders/{draft_id}/invoice", headers=bearer(token))

    async def pay_invoice(
        self, draft_id: str, token: str, *, payment_token: str = "tok_visa"
    ) -> httpx.Response:
        """``POST /v1/draft-orders/{id}/checkout``: pay the invoice by card; 202 with the order's id and token."""
        return await self.send(
            "POST",
            f"/v1/draft-orders/{draft_id}/checkout",
            json={"payment": {"token": payment_token}},
            headers=bearer(token),
        )
