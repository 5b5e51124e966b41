"""Each client method is one operation of a service's internal API: it owns the method, the path, the headers
that operation needs and how its body goes on the wire."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from shop_api.catalog import CatalogClient, InboundChangeIn
from shop_api.fulfillment import FulfillmentClient
from shop_api.orders.checkout import CheckoutIn, PlaceOrderIn
from shop_api.orders.client import OrderAccess, OrdersClient
from shop_api.orders.drafts import DraftChangesIn
from shop_api.payments import PaymentsClient
from tests.unit.api.test_bodies import CHECKOUT


class Recorder:
    """A service call that records what it was asked and answers 200."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        self.calls.append(
            {
                "method": method,
                "path": path,
                "json": json,
                "content": content,
                "params": params,
                "headers": headers,
            }
        )
        return httpx.Response(200, json={})


async def test_placing_an_order_sends_the_key_the_account_and_stock_only_when_there_is_some() -> None:
    recorder = Recorder()
    client = OrdersClient(recorder)
    checkout = CheckoutIn.model_validate(CHECKOUT)
    await client.place_order(
        PlaceOrderIn.of(checkout, stock_at_locations=None), idempotency_key="key-1", customer_id=None
    )
    await client.place_order(
        PlaceOrderIn.of(checkout, stock_at_locations={"seoul-1": {"SHIRT-LINEN-M": 2}}),
        idempotency_key="key-2",
        customer_id="customer-1",
    )
    first, second = recorder.calls
    assert (first["method"], first["path"]) == ("POST", "/orders")
    assert first["json"] == checkout.model_dump(mode="json")
    assert first["headers"] == {"Idempotency-Key": "key-1"}
    assert second["json"] == {
        **checkout.model_dump(mode="json"),
        "stock_at_locations": {"seoul-1": {"SHIRT-LINEN-M": 2}},
    }
    assert second["headers"] == {"Idempotency-Key": "key-2", "X-Customer-Id": "customer-1"}


async def test_an_order_opens_with_exactly_one_kind_of_access() -> None:
    recorder = Recorder()
    client = OrdersClient(recorder)
    order_id = uuid.uuid4()
    for access in (
        OrderAccess(staff=True),
        OrderAccess(customer_id="customer-1"),
        OrderAccess(access_token="token-1"),
    ):
        await client.order(order_id, access=access)
    assert [call["path"] for call in recorder.calls] == [f"/orders/{order_id}"] * 3
    assert [call["headers"] for call in recorder.calls] == [
        {"X-Caller-Role": "staff"},
        {"X-Customer-Id": "customer-1"},
        {"X-Order-Access-Token": "token-1"},
    ]


async def test_changes_send_only_what_was_given() -> None:
    recorder = Recorder()
    draft_id = uuid.uuid4()
    await OrdersClient(recorder).change_draft(
        draft_id, DraftChangesIn.model_validate({"reserve_until": None})
    )
    await CatalogClient(recorder).change_inbound(draft_id, InboundChangeIn(quantity=3))
    assert recorder.calls[0]["json"] == {"reserve_until": None}
    assert (recorder.calls[1]["method"], recorder.calls[1]["json"]) == ("PATCH", {"quantity": 3})


async def test_queries_name_their_parameters() -> None:
    recorder = Recorder()
    orders = OrdersClient(recorder)
    since = datetime(2027, 1, 1, tzinfo=UTC)
    await orders.cancellation_stats(since=since, until=since, within_days=None)
    await orders.customer("customer-1", with_orders=True)
    await CatalogClient(recorder).preorder_metrics(sku="A-1", campaign=None)
    await FulfillmentClient(recorder).purge_dead_letters(confirm=None)
    assert [(call["method"], call["path"], call["params"]) for call in recorder.calls] == [
        ("GET", "/cancellations/stats", {"since": since.isoformat(), "until": since.isoformat()}),
        ("GET", "/customers/customer-1", {"with_orders": "true"}),
        ("GET", "/preorder-metrics", {"sku": "A-1"}),
        ("DELETE", "/dead-letters", {}),
    ]


async def test_a_psp_event_goes_on_as_the_bytes_that_came() -> None:
    recorder = Recorder()
    raw = json.dumps({"id": "evt_1", "type": "charge.succeeded"}).encode()
    await PaymentsClient(recorder).deliver_psp_event(
        raw, content_type="application/json", signature="t=1,v1=ab"
    )
    (call,) = recorder.calls
    assert (call["method"], call["path"], call["content"], call["json"]) == (
        "POST",
        "/webhooks/psp",
        raw,
        None,
    )
    assert call["headers"] == {"Content-Type": "application/json", "Shop-PSP-Signature": "t=1,v1=ab"}
