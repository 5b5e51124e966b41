"""Orders' typed client: each method is one operation of orders' internal API, and owns its method and path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import httpx

from shop_api.orders.checkout import (
    CancellationIn,
    FeedbackIn,
    PlaceOrderIn,
    PreorderDecisionIn,
    QuoteShippingIn,
)
from shop_api.orders.customers import (
    AddressChangesIn,
    LoginIn,
    OrderCustomerIn,
    ProfileChangesIn,
    SavedAddressIn,
    SignUpIn,
    StaffCustomerIn,
)
from shop_api.orders.drafts import DraftChangesIn, DraftCheckoutIn, DraftIn, DraftStatus, MarkPaidIn
from shop_api.orders.returns import ReturnIn, ReturnRejectionIn, ReturnStatus
from shop_api.orders.subscriptions import PlanIn, SubscribeIn, SubscriptionCancelIn, SubscriptionCardIn
from shop_api.transport import Id, ServiceClient


@dataclass(frozen=True)
class OrderAccess:
    """Who opens an order, as orders checks it: staff, the account that owns it, or the order's access token
    (or a pre-order decision link's token, which opens that decision only). ``as_customer``: the gateway acts as
    the order's own customer, proven to it by an email link it verified for this order; orders records the
    customer as the one who acted."""

    staff: bool = False
    customer_id: str | None = None
    access_token: str | None = None
    as_customer: bool = False

    def headers(self) -> dict[str, str]:
        if self.staff:
            return {"X-Caller-Role": "staff"}
        if self.as_customer:
            return {"X-Caller-Role": "customer"}
        if self.customer_id is not None:
            return {"X-Customer-Id": self.customer_id}
        if self.access_token is not None:
            return {"X-Order-Access-Token": self.access_token}
        return {}


class OrdersClient(ServiceClient):
    """Orders' internal API."""

    async def place_order(
        self, body: PlaceOrderIn | bytes, *, idempotency_key: str, customer_id: str | None
    ) -> httpx.Response:
        """Place an order for a guest, or for ``customer_id``'s account; the same key answers the same order.

        ``body`` may be a checkout's JSON as the caller received it, once validated as ``CheckoutIn`` (a valid
        ``PlaceOrderIn`` without ``stock_at_locations``): it is sent as it came, orders validates it again."""
        headers = {"Idempotency-Key": idempotency_key}
        if customer_id is not None:
            headers["X-Customer-Id"] = customer_id
        if isinstance(body, bytes):
            headers["Content-Type"] = "application/json"
            return await self._call("POST", "/orders", content=body, headers=headers)
        sent = body.model_dump(mode="json")
        if body.stock_at_locations is None:
            del sent["stock_at_locations"]
        return await self._call("POST", "/orders", json=sent, headers=headers)

    async def order(self, order_id: Id, *, access: OrderAccess) -> httpx.Response:
        return await self._call("GET", f"/orders/{order_id}", headers=access.headers())

    async def quote_shipping(self, body: QuoteShippingIn) -> httpx.Response:
        return await self._call("POST", "/shipping-rates", json=body.model_dump(mode="json"))

    async def cancel_order(
        self, order_id: Id, body: CancellationIn, *, access: OrderAccess
    ) -> httpx.Response:
        return await self._call(
            "POST", f"/orders/{order_id}/cancel", json=body.model_dump(mode="json"), headers=access.headers()
        )

    async def cancellation(self, order_id: Id, *, access: OrderAccess) -> httpx.Response:
        return await self._call("GET", f"/orders/{order_id}/cancellation", headers=access.headers())

    async def cancellation_stats(
        self, *, since: datetime, until: datetime, within_days: float | None
    ) -> httpx.Response:
        params: dict[str, str | float] = {"since": since.isoformat(), "until": until.isoformat()}
        if within_days is not None:
            params["within_days"] = within_days
        return await self._call("GET", "/cancellations/stats", params=params)

    async def cancellation_offers(self) -> httpx.Response:
        """The win-back offer of each cancellation reason."""
        return await self._call("GET", "/cancellation-offers")

    async def give_feedback(self, order_id: Id, body: FeedbackIn, *, token: str) -> httpx.Response:
        """A customer's feedback on their cancellation; the feedback link's token is the credential."""
        return await self._call(
            "POST", f"/orders/{order_id}/feedback", params={"token": token}, json=body.model_dump(mode="json")
        )

    async def feedback(self, order_id: Id, *, token: str) -> httpx.Response:
        """Whether a feedback link's token opens this order's feedback, and the feedback kept, if any."""
        return await self._call("GET", f"/orders/{order_id}/feedback", params={"token": token})

    async def cancellation_feedback(
        self, *, since: datetime, until: datetime, limit: int, offset: int
    ) -> httpx.Response:
        params: dict[str, str | int] = {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "limit": limit,
            "offset": offset,
        }
        return await self._call("GET", "/cancellations/feedback", params=params)

    async def decide_on_changed_date(
        self, order_id: Id, body: PreorderDecisionIn, *, access: OrderAccess
    ) -> httpx.Response:
        return await self._call(
            "POST",
            f"/orders/{order_id}/preorder-decision",
            json=body.model_dump(mode="json"),
            headers=access.headers(),
        )

    async def preorder_metrics(self, *, sku: str | None, campaign: str | None) -> httpx.Response:
        """Orders' part of the pre-order metrics: units, revenue, cancellations, refunds, demand."""
        params = {name: value for name, value in (("sku", sku), ("campaign", campaign)) if value is not None}
        return await self._call("GET", "/preorder-metrics", params=params)

    async def create_customer(self, body: SignUpIn | StaffCustomerIn) -> httpx.Response:
        """A sign-up (with a password) or an account staff make (without)."""
        return await self._call("POST", "/customers", json=body.model_dump(mode="json"))

    async def authenticate(self, body: LoginIn) -> httpx.Response:
        return await self._call("POST", "/customers/authenticate", json=body.model_dump(mode="json"))

    async def find_customers(self, *, email: str) -> httpx.Response:
        return await self._call("GET", "/customers", params={"email": email})

    async def customer(self, customer_id: Id, *, with_orders: bool = False) -> httpx.Response:
        if with_orders:
            return await self._call("GET", f"/customers/{customer_id}", params={"with_orders": "true"})
        return await self._call("GET", f"/customers/{customer_id}")

    async def change_customer(self, customer_id: Id, body: ProfileChangesIn) -> httpx.Response:
        return await self._call(
            "PATCH", f"/customers/{customer_id}", json=body.model_dump(mode="json", exclude_unset=True)
        )

    async def addresses(self, customer_id: Id) -> httpx.Response:
        return await self._call("GET", f"/customers/{customer_id}/addresses")

    async def add_address(self, customer_id: Id, body: SavedAddressIn) -> httpx.Response:
        return await self._call(
            "POST", f"/customers/{customer_id}/addresses", json=body.model_dump(mode="json")
        )

    async def change_address(self, customer_id: Id, address_id: Id, body: AddressChangesIn) -> httpx.Response:
        return await self._call(
            "PATCH",
            f"/customers/{customer_id}/addresses/{address_id}",
            json=body.model_dump(mode="json", exclude_unset=True),
        )

    async def delete_address(self, customer_id: Id, address_id: Id) -> httpx.Response:
        return await self._call("DELETE", f"/customers/{customer_id}/addresses/{address_id}")

    async def segments(self, customer_id: Id) -> httpx.Response:
        """The segments staff put an account in."""
        return await self._call("GET", f"/customers/{customer_id}/segments")

    async def add_segment(self, customer_id: Id, segment: str) -> httpx.Response:
        """Put an account in a segment (a slug, checked by the caller); doing it again changes nothing."""
        return await self._call("PUT", f"/customers/{customer_id}/segments/{segment}")

    async def remove_segment(self, customer_id: Id, segment: str) -> httpx.Response:
        return await self._call("DELETE", f"/customers/{customer_id}/segments/{segment}")

    async def customer_orders(self, customer_id: Id, *, limit: int, offset: int) -> httpx.Response:
        return await self._call(
            "GET", f"/customers/{customer_id}/orders", params={"limit": limit, "offset": offset}
        )

    async def give_order_to_customer(self, order_id: Id, body: OrderCustomerIn) -> httpx.Response:
        return await self._call(
            "PUT", f"/orders/{order_id}/customer", json=body.model_dump(mode="json", exclude_none=True)
        )

    async def create_draft(self, body: DraftIn) -> httpx.Response:
        return await self._call("POST", "/drafts", json=body.model_dump(mode="json", exclude_unset=True))

    async def drafts(
        self, *, status: DraftStatus | None, customer_id: Id | None, limit: int
    ) -> httpx.Response:
        params: dict[str, str | int] = {"limit": limit}
        if status is not None:
            params["status"] = status
        if customer_id is not None:
            params["customer_id"] = str(customer_id)
        return await self._call("GET", "/drafts", params=params)

    async def draft(self, draft_id: Id) -> httpx.Response:
        return await self._call("GET", f"/drafts/{draft_id}")

    async def change_draft(self, draft_id: Id, body: DraftChangesIn) -> httpx.Response:
        return await self._call(
            "PATCH", f"/drafts/{draft_id}", json=body.model_dump(mode="json", exclude_unset=True)
        )

    async def delete_draft(self, draft_id: Id) -> httpx.Response:
        return await self._call("DELETE", f"/drafts/{draft_id}")

    async def duplicate_draft(self, draft_id: Id) -> httpx.Response:
        return await self._call("POST", f"/drafts/{draft_id}/duplicate")

    async def send_invoice(self, draft_id: Id) -> httpx.Response:
        return await self._call("POST", f"/drafts/{draft_id}/invoice")

    async def complete_on_terms(self, draft_id: Id) -> httpx.Response:
        return await self._call("POST", f"/drafts/{draft_id}/complete")

    async def mark_as_paid(self, draft_id: Id, body: MarkPaidIn) -> httpx.Response:
        return await self._call("POST", f"/drafts/{draft_id}/mark-paid", json=body.model_dump(mode="json"))

    async def invoice(self, draft_id: Id, *, draft_token: str) -> httpx.Response:
        """The invoice a draft's emailed link opens, with that link's token."""
        return await self._call("GET", f"/drafts/{draft_id}/invoice", headers={"X-Draft-Token": draft_token})

    async def pay_invoice(self, draft_id: Id, body: DraftCheckoutIn, *, draft_token: str) -> httpx.Response:
        return await self._call(
            "POST",
            f"/drafts/{draft_id}/checkout",
            json=body.model_dump(mode="json"),
            headers={"X-Draft-Token": draft_token},
        )

    async def request_return(self, order_id: Id, body: ReturnIn, *, access: OrderAccess) -> httpx.Response:
        return await self._call(
            "POST", f"/orders/{order_id}/returns", json=body.model_dump(mode="json"), headers=access.headers()
        )

    async def order_returns(self, order_id: Id, *, access: OrderAccess) -> httpx.Response:
        return await self._call("GET", f"/orders/{order_id}/returns", headers=access.headers())

    async def returns(self, *, status: ReturnStatus | None, limit: int) -> httpx.Response:
        params: dict[str, str | int] = {"limit": limit}
        if status is not None:
            params["status"] = status
        return await self._call("GET", "/returns", params=params)

    async def approve_return(self, return_id: Id) -> httpx.Response:
        return await self._call("POST", f"/returns/{return_id}/approve")

    async def reject_return(self, return_id: Id, body: ReturnRejectionIn) -> httpx.Response:
        return await self._call("POST", f"/returns/{return_id}/reject", json=body.model_dump(mode="json"))

    # --- subscriptions -------------------------------------------------------------------------------------

    async def create_plan(self, body: PlanIn) -> httpx.Response:
        return await self._call("POST", "/subscription-plans", json=body.model_dump(mode="json"))

    async def plans(self) -> httpx.Response:
        return await self._call("GET", "/subscription-plans")

    async def subscribe(self, customer_id: Id, body: SubscribeIn, *, idempotency_key: str) -> httpx.Response:
        """Subscribe the account to a plan with a card payments verified; the same key, the same subscription."""
        return await self._call(
            "POST",
            f"/customers/{customer_id}/subscriptions",
            json=body.model_dump(mode="json"),
            headers={"Idempotency-Key": idempotency_key},
        )

    async def subscriptions(
        self,
        *,
        customer_id: Id | None = None,
        status: str | None = None,
        plan_code: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> httpx.Response:
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        for name, value in (("customer_id", customer_id), ("status", status), ("plan_code", plan_code)):
            if value is not None:
                params[name] = str(value)
        return await self._call("GET", "/subscriptions", params=params)

    async def subscription(self, subscription_id: Id, *, customer_id: Id | None) -> httpx.Response:
        return await self._call("GET", f"/subscriptions/{subscription_id}", headers=_acting(customer_id))

    async def change_subscription(
        self,
        subscription_id: Id,
        action: SubscriptionAction,
        *,
        customer_id: Id | None,
        body: SubscriptionCancelIn | None = None,
    ) -> httpx.Response:
        """Pause, resume, skip the next cycle or cancel; for a customer (``customer_id``) only their own."""
        return await self._call(
            "POST",
            f"/subscriptions/{subscription_id}/{action}",
            json=None if body is None else body.model_dump(mode="json"),
            headers=_acting(customer_id),
        )

    async def change_subscription_card(
        self, subscription_id: Id, body: SubscriptionCardIn, *, customer_id: Id | None
    ) -> httpx.Response:
        """Charge later cycles to a card payments verified (a cycle in dunning at once)."""
        return await self._call(
            "PUT",
            f"/subscriptions/{subscription_id}/payment-method",
            json=body.model_dump(mode="json"),
            headers=_acting(customer_id),
        )


SubscriptionAction = Literal["pause", "resume", "skip", "cancel"]
SubscriptionMove = Literal["pause", "resume", "skip"]
"""The moves that take no body (``cancel`` takes ``SubscriptionCancelIn``)."""


def _acting(customer_id: Id | None) -> dict[str, str]:
    """Who acts on a subscription: the signed-in customer (only their own), or staff (no header)."""
    return {} if customer_id is None else {"X-Customer-Id": str(customer_id)}
