"""Cancelling an order in each of its states, short picks and win-back codes, through the gateway of a running
shop: what each state's cancellation compensates, what the warehouse hears, what the customer is told (more on
win-back offers, feedback and saved sales in test_win_back.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest

from scripts.stack import Stack
from shop_contracts.routing import WAREHOUSE_EXCHANGE
from shop_storefront import Storefront, bearer, checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    STAFF,
    WAREHOUSE,
    access,
    as_warehouse,
    available,
    emails_to,
    order_as_customer,
    place_order,
    product,
    product_in_stock,
    put_on_preorder,
    text_of,
    wait_for_status,
)

pytestmark = pytest.mark.system


async def cancel(
    gateway: httpx.AsyncClient, placed: dict[str, Any], reason: str = "changed_mind", **extra: Any
) -> httpx.Response:
    return await Storefront(gateway).cancel(access(placed), reason, **extra)


async def report(gateway: httpx.AsyncClient, fulfillment_id: str, event: dict[str, Any]) -> httpx.Response:
    return await as_warehouse(gateway).report(fulfillment_id, event)


async def fulfillment_of(gateway: httpx.AsyncClient, placed: dict[str, Any]) -> str:
    """The fulfillment order of the order's (one) in-stock group, once fulfillment opened it."""
    found: list[str] = []

    async def opened() -> None:
        view = await order_as_customer(gateway, placed)
        ids = [g["fulfillment_id"] for g in view["shipment_groups"] if g["fulfillment_id"]]
        assert ids, view["shipment_groups"]
        found[:] = ids

    await eventually(opened)
    return found[0]


async def refunded(gateway: httpx.AsyncClient, placed: dict[str, Any], amount: int) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def done() -> None:
        seen.update(await order_as_customer(gateway, placed))
        assert seen["payments"]["refunded"] == amount, seen["payments"]

    await eventually(done, timeout=45)
    return seen


@contextlib.contextmanager
def paused(stack: Stack, name: str) -> Iterator[None]:
    """Freeze one process (SIGSTOP) so the saga waits at its step, and let it go on (SIGCONT) afterwards.

    Freezing rather than restarting keeps its sockets: nothing has to bind a port again."""
    os.kill(stack.pid(name), signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(stack.pid(name), signal.SIGCONT)


async def test_a_pending_order_is_cancelled_and_the_reservation_landing_later_is_released(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path
) -> None:
    sku = new_sku("PEND")
    product_id = await product_in_stock(gateway, sku=sku, units=5)
    await eventually(lambda: _orders_knows(stack, sku))
    # Catalog down at checkout: its hold goes unanswered, so the order is pending and the saga's reserve decides.
    with paused(stack, "catalog-worker"), paused(stack, "catalog-http"):
        body = checkout(sku, quantity=2, locale="ko")
        placed = (await place_order(gateway, body)).json()
        assert placed["status"] == "pending"
        response = await cancel(gateway, placed, "changed_mind", note="사이즈를 잘못 골랐어요")
        assert response.status_code == 200, response.text
        assert response.json() == {
            "id": placed["id"],
            "status": "cancelled",
            "reason": "changed_mind",
            "refund": 0,
        }

    async def released_again() -> None:
        view = await order_as_customer(gateway, placed)
        assert "late_reservation_released" in [e["event"] for e in view["timeline"]]
        assert await available(gateway, product_id) == 5

    await eventually(released_again, timeout=45)
    view = await order_as_customer(gateway, placed)
    assert view["status"] == "cancelled"
    assert view["payments"]["captured"] == 0

    async def answered_in_korean() -> None:
        texts = [text_of(m) for m in emails_to(mail_dir, body["email"])]
        assert any("사이즈 가이드" in t and "/feedback?order=" in t for t in texts), texts

    await eventually(answered_in_korean, timeout=20)


async def test_a_reserved_order_is_cancelled_and_the_payment_that_succeeds_later_is_refunded(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    sku = new_sku("RSV")
    product_id = await product_in_stock(gateway, sku=sku, units=5, price=20000)
    with paused(stack, "payments-worker"):
        placed = (await place_order(gateway, checkout(sku, quantity=1))).json()
        await wait_for_status(gateway, placed, "reserved")
        response = await cancel(gateway, placed, "payment_method")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled"
        assert await _eventually_available(gateway, product_id, 5)
    view = await refunded(gateway, placed, 23000)
    assert view["payments"]["captured"] == 23000
    assert view["status"] == "cancelled"
    assert "late_payment_refunded" in [e["event"] for e in view["timeline"]]


async def test_a_confirmed_order_with_the_warehouse_is_stopped_refunded_once_and_the_warehouse_told(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    sku = new_sku("PICK")
    product_id = await product_in_stock(gateway, sku=sku, units=5)
    warehouse = await aio_pika.connect(stack.config.amqp_url)
    channel = await warehouse.channel()
    exchange = await channel.declare_exchange(WAREHOUSE_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    picks = await channel.declare_queue(exclusive=True)
    await picks.bind(exchange, routing_key="pick.seoul-1")
    placed = (await place_order(gateway, checkout(sku, quantity=2))).json()
    await wait_for_status(gateway, placed, "confirmed")
    fulfillment_id = await fulfillment_of(gateway, placed)
    assert (await report(gateway, fulfillment_id, {"type": "picked"})).status_code == 200

    staff_cancel = await gateway.post(
        f"/v1/orders/{placed['id']}/cancel", json={"reason": "delivery_time"}, headers=STAFF
    )
    assert staff_cancel.status_code == 200, staff_cancel.text
    assert staff_cancel.json()["status"] == "cancelled"
    assert staff_cancel.json()["refund"] == 81000
    again = await cancel(gateway, placed, "delivery_time")
    assert again.status_code == 200
    assert again.json() == staff_cancel.json()

    view = await refunded(gateway, placed, 81000)
    assert view["status"] == "cancelled"
    assert [s["status"] for s in view["shipments"]] == ["cancelled"]
    assert await _eventually_available(gateway, product_id, 5)

    async def warehouse_told() -> None:
        types = []
        while (message := await picks.get(no_ack=True, fail=False)) is not None:
            if json.loads(message.body)["subject"] == placed["id"]:
                types.append(message.type)
        assert "fulfillment.pick.cancelled.v1" in types, types

    await eventually(warehouse_told)
    await warehouse.close()
    listed = await gateway.get(
        "/v1/warehouse/pick-requests", params={"location": "seoul-1"}, headers=WAREHOUSE
    )
    assert placed["id"] not in [item["order_id"] for item in listed.json()["items"]]
    late = await report(gateway, fulfillment_id, {"type": "packed"})
    assert late.status_code == 409
    assert "cancelled" in late.json()["detail"]


async def test_packed_shipped_delivered_and_rejected_orders_are_refused_with_a_409(
    gateway: httpx.AsyncClient,
) -> None:
    sku = new_sku("LATE")
    await product_in_stock(gateway, sku=sku, units=5)
    placed = (await place_order(gateway, checkout(sku))).json()
    await wait_for_status(gateway, placed, "confirmed")
    fulfillment_id = await fulfillment_of(gateway, placed)
    for event in ({"type": "picked"}, {"type": "packed"}):
        assert (await report(gateway, fulfillment_id, event)).status_code == 200

    async def packed_known() -> None:
        view = await order_as_customer(gateway, placed)
        assert view["shipment_groups"][0]["status"] == "packed"

    await eventually(packed_known)
    refused = await cancel(gateway, placed)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "request a return" in refused.json()["title"]

    shipped = {"type": "shipped", "carrier": "CJ Logistics", "tracking_number": "CJ-CANCEL-1"}
    assert (await report(gateway, fulfillment_id, shipped)).status_code == 200
    await wait_for_status(gateway, placed, "shipped")
    assert "request a return" in (await cancel(gateway, placed)).json()["title"]
    assert (await report(gateway, fulfillment_id, {"type": "delivered"})).status_code == 200
    await wait_for_status(gateway, placed, "delivered")
    assert (await cancel(gateway, placed)).status_code == 409

    declined = (await place_order(gateway, checkout(sku, token="tok_card_declined"))).json()
    await wait_for_status(gateway, declined, "rejected")
    answer = await cancel(gateway, declined)
    assert answer.status_code == 409
    assert "rejected" in answer.json()["title"]
    assert (await cancel(gateway, declined, "nonsense")).status_code == 422


async def test_a_partially_shipped_order_cancels_what_has_not_shipped_and_refunds_it(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    in_stock = new_sku("TEE")
    await product_in_stock(gateway, sku=in_stock, units=5, price=39000)
    preorder = new_sku("JACKET")
    preorder_product = await product(gateway, sku=preorder, prices={"KRW": 100000})
    await put_on_preorder(
        stack, gateway, preorder, {"payment_mode": "pay_now", "cap": 10, "expected_ship_date": "2027-01-20"}
    )
    body = checkout(in_stock)
    body["lines"].append({"sku": preorder, "quantity": 1})
    placed = (await place_order(gateway, body)).json()
    await wait_for_status(gateway, placed, "confirmed")
    fulfillment_id = await fulfillment_of(gateway, placed)
    for event in (
        {"type": "picked"},
        {"type": "packed"},
        {"type": "shipped", "carrier": "CJ Logistics", "tracking_number": "CJ-PART-1"},
    ):
        assert (await report(gateway, fulfillment_id, event)).status_code == 200
    await wait_for_status(gateway, placed, "partially_shipped")

    response = await cancel(gateway, placed, "delivery_time")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "partially_cancelled"
    assert response.json()["refund"] == 100000
    view = await refunded(gateway, placed, 100000)
    assert view["status"] == "partially_fulfilled"
    lines = {line["sku"]: line for line in view["lines"]}
    assert (lines[in_stock]["quantity_shipped"], lines[in_stock]["quantity_refunded"]) == (1, 0)
    assert (lines[preorder]["quantity_shipped"], lines[preorder]["quantity_refunded"]) == (0, 1)
    assert view["waiting_preorders"] == []

    async def place_given_back() -> None:
        shown = (await gateway.get(f"/v1/products/{preorder_product}")).json()["variants"][0]["preorder"]
        assert shown["units_left"] == 10

    await eventually(place_given_back)


async def test_a_short_pick_ships_what_was_picked_and_refunds_the_rest(gateway: httpx.AsyncClient) -> None:
    sku = new_sku("SHORT")
    product_id = await product_in_stock(gateway, sku=sku, units=5, price=10000)
    placed = (await place_order(gateway, checkout(sku, quantity=3))).json()
    await wait_for_status(gateway, placed, "confirmed")
    fulfillment_id = await fulfillment_of(gateway, placed)
    too_many = await report(
        gateway, fulfillment_id, {"type": "picked", "lines": [{"sku": sku, "quantity": 4}]}
    )
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "lines"
    picked = await report(gateway, fulfillment_id, {"type": "picked", "lines": [{"sku": sku, "quantity": 2}]})
    assert picked.status_code == 200, picked.text
    view = await refunded(gateway, placed, 10000)
    assert view["lines"][0]["quantity_refunded"] == 1
    for event in (
        {"type": "packed"},
        {"type": "shipped", "carrier": "CJ Logistics", "tracking_number": "CJ-SHORT-1"},
    ):
        assert (await report(gateway, fulfillment_id, event)).status_code == 200
    view = await wait_for_status(gateway, placed, "partially_fulfilled")
    assert (view["lines"][0]["quantity_shipped"], view["lines"][0]["quantity_refunded"]) == (2, 1)
    assert view["shipment_groups"][0]["short_lines"] == [{"sku": sku, "quantity": 1, "location": "seoul-1"}]
    # The two shipped units and the missing one are off stock; the other two are still for sale.
    assert await _eventually_available(gateway, product_id, 2)
    assert (await report(gateway, fulfillment_id, {"type": "delivered"})).status_code == 200
    await wait_for_status(gateway, placed, "delivered")


async def test_a_cancellation_offers_a_single_use_code_that_saves_the_sale(
    gateway: httpx.AsyncClient, mail_dir: Path, clock: Callable[[timedelta], None]
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=1)
    sku = new_sku("BACK")
    await product_in_stock(gateway, sku=sku, units=10, price=50000)
    body = checkout(sku, locale="en")
    placed = (await place_order(gateway, body)).json()
    await wait_for_status(gateway, placed, "confirmed")
    # "other" offers 10 % off by default (SHOP_ORDERS_WIN_BACK_OFFERS).
    response = await cancel(gateway, placed, "other", note="not what I expected")
    assert response.status_code == 200, response.text
    followed = await gateway.get(
        f"/v1/orders/{placed['id']}/cancellation", headers=bearer(placed["access_token"])
    )
    code = followed.json()["discount_code"]["code"]
    assert followed.json()["discount_code"]["percent_off"] == 10
    assert followed.json()["note"] == "not what I expected"

    async def email_answers_the_reason() -> None:
        texts = [text_of(m) for m in emails_to(mail_dir, body["email"])]
        assert any("done better" in t and "/feedback?order=" in t for t in texts), texts
        # The code is an offer: its own email, in the marketing category, which this guest never consented to.
        assert not any(code in t for t in texts), texts

    await eventually(email_answers_the_reason, timeout=20)

    unknown = await place_order(gateway, {**body, "discount_code": "BACK-NOPE"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "discount_code"
    again = (await place_order(gateway, {**body, "discount_code": code})).json()
    order = await wait_for_status(gateway, again, "confirmed")
    assert order["totals"] == {
        "subtotal": 50000,
        "shipping": 3000,
        "discount": 5000,
        "tax": 4364,
        "tax_included": True,
        "total": 48000,
    }
    assert order["discount_code"] == code
    assert order["payments"]["captured"] == 48000
    used = await place_order(gateway, {**body, "discount_code": code})
    assert used.status_code == 409
    assert "already used" in used.json()["title"]

    figures = await gateway.get(
        "/v1/admin/cancellations",
        params={
            "since": started.isoformat(),
            "until": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
        },
        headers=STAFF,
    )
    assert figures.status_code == 200, figures.text
    [other_reason] = [r for r in figures.json()["reasons"] if r["reason"] == "other"]
    assert other_reason["saved"] >= 1
    assert other_reason["saved_with_code"] >= 1
    assert (
        await gateway.get("/v1/admin/cancellations", params={"since": "yesterday"}, headers=STAFF)
    ).status_code == 422
    assert (
        await gateway.get(
            "/v1/admin/cancellations",
            params={"since": started.isoformat(), "until": started.isoformat()},
            headers=STAFF,
        )
    ).status_code == 422

    # A second cancelled order's code expires after its 30 days.
    other_body = checkout(sku)
    other = (await place_order(gateway, other_body)).json()
    await wait_for_status(gateway, other, "confirmed")
    assert (await cancel(gateway, other, "found_cheaper")).status_code == 200
    other_code = (
        await gateway.get(f"/v1/orders/{other['id']}/cancellation", headers=bearer(other["access_token"]))
    ).json()["discount_code"]["code"]
    clock(timedelta(days=31))
    expired = await place_order(gateway, {**other_body, "discount_code": other_code})
    assert expired.status_code == 422
    assert "expired" in expired.json()["title"]


async def _orders_knows(stack: Stack, sku: str) -> None:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{stack.config.service_port('orders')}"
    ) as orders:
        assert (await orders.get(f"/variants/{sku}")).status_code == 200


async def _eventually_available(gateway: httpx.AsyncClient, product_id: str, units: int) -> bool:
    async def back() -> None:
        assert await available(gateway, product_id) == units

    await eventually(back, timeout=20)
    return True
