"""One in-stock order from checkout to delivered, and its failure paths, through the gateway of a running shop."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import aio_pika
import httpx
import pytest

from scripts.stack import Stack
from shop_contracts.payments import CapturePayment
from shop_contracts.routing import SIGNATURE_HEADER, WAREHOUSE_EXCHANGE
from shop_runtime import signatures
from shop_storefront import checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    STAFF,
    WAREHOUSE,
    available,
    emails_to,
    order_as_customer,
    place_order,
    product_in_stock,
    text_of,
    wait_for_status,
)
from tests.system.test_cancellations import paused

pytestmark = pytest.mark.system


async def test_an_in_stock_order_goes_from_checkout_to_delivered(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path
) -> None:
    sku = new_sku()
    product_id = await product_in_stock(gateway, sku=sku, units=5)
    warehouse = await aio_pika.connect(stack.config.amqp_url)
    channel = await warehouse.channel()
    exchange = await channel.declare_exchange(WAREHOUSE_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    pick_queue = await channel.declare_queue(exclusive=True)
    await pick_queue.bind(exchange, routing_key="pick.seoul-1")

    body = checkout(sku, quantity=2, locale="ko")
    response = await place_order(gateway, body)
    assert response.status_code == 202, response.text
    placed = response.json()
    # reserved: catalog held the units at checkout (pending only if it did not answer in time)
    assert placed["status"] in ("reserved", "pending")

    order = await wait_for_status(gateway, placed, "confirmed")
    assert order["totals"] == {
        "subtotal": 78000,
        "shipping": 3000,
        "discount": 0,
        "tax": 7364,  # 10 % VAT inside the price: 81,000 * 10/110, rounded half up
        "tax_included": True,
        "total": 81000,
    }
    assert [(p["status"], p["amount"]) for p in order["payments"]["items"]] == [("succeeded", 81000)]
    assert await available(gateway, product_id) == 3

    async def pick_requested() -> None:
        picks = await gateway.get(
            "/v1/warehouse/pick-requests", params={"location": "seoul-1"}, headers=WAREHOUSE
        )
        assert any(item["order_id"] == placed["id"] for item in picks.json()["items"])

    await eventually(pick_requested)
    message = await pick_queue.get(timeout=5, fail=False)
    assert message is not None, "the warehouse exchange carried no pick request for seoul-1"
    # Signed as the integration guide tells a warehouse to check it, with the secret the merchant shares.
    signatures.verify(
        message.body,
        str((message.headers or {}).get(SIGNATURE_HEADER)),
        secrets=[stack.config.warehouse_signing_secret],
        now=time.time(),
        tolerance_seconds=300,
    )
    pick = json.loads(message.body)["data"]
    assert pick["order_id"] == placed["id"]
    assert pick["lines"] == [{"sku": sku, "quantity": 2, "location": "seoul-1"}]
    await warehouse.close()

    fulfillment_id = pick["fulfillment_id"]
    for event in (
        {"type": "picked"},
        {"type": "packed"},
        {"type": "shipped", "carrier": "CJ Logistics", "tracking_number": "CJ1234567890"},
    ):
        reported = await gateway.post(
            f"/v1/warehouse/fulfillments/{fulfillment_id}/events", json=event, headers=WAREHOUSE
        )
        assert reported.status_code == 200, reported.text
    order = await wait_for_status(gateway, placed, "shipped")
    assert order["shipments"][0]["carrier"] == "CJ Logistics"
    assert order["shipments"][0]["tracking_number"] == "CJ1234567890"

    delivered = await gateway.post(
        f"/v1/warehouse/fulfillments/{fulfillment_id}/events", json={"type": "delivered"}, headers=WAREHOUSE
    )
    assert delivered.status_code == 200, delivered.text
    order = await wait_for_status(gateway, placed, "delivered")
    events = [entry["event"] for entry in order["timeline"]]
    for expected in (
        "placed",
        "stock_reserved",
        "payment_captured",
        "confirmed",
        "pick_requested",
        "picked",
        "packed",
        "shipped",
        "delivered",
    ):
        assert expected in events, f"{expected} missing from {events}"

    async def confirmation_and_shipping_emails() -> None:
        texts = [text_of(message) for message in emails_to(mail_dir, body["email"])]
        assert any("81,000원" in text for text in texts), texts
        assert any("CJ1234567890" in text for text in texts), texts

    await eventually(confirmation_and_shipping_emails, timeout=20)
    # Shipped units left the building: still 3 available, and nothing reserved any more.
    assert await available(gateway, product_id) == 3

    # Operators see the business counters: placed on orders' HTTP process, confirmed on its worker.
    orders_port = stack.config.service_port("orders")
    async with httpx.AsyncClient() as scraper:
        http_metrics = (await scraper.get(f"http://127.0.0.1:{orders_port}/metrics")).text
        worker_metrics = (await scraper.get(f"http://127.0.0.1:{orders_port + 1000}/metrics")).text
    assert 'shop_orders_placed_total{currency="KRW"}' in http_metrics
    assert 'shop_orders_confirmed_total{currency="KRW"}' in worker_metrics


async def test_an_order_for_more_than_is_in_stock_is_refused_at_checkout(gateway: httpx.AsyncClient) -> None:
    sku = new_sku()
    product_id = await product_in_stock(gateway, sku=sku, units=1)

    refused = await place_order(gateway, checkout(sku, quantity=2, locale="en"))

    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"] == [
        {"field": "lines[0].sku", "message": f"{sku}: only 1 left, 2 asked for"}
    ]
    assert await available(gateway, product_id) == 1


async def test_with_catalog_not_answering_checkout_places_the_order_and_the_saga_rejects_it_charging_nothing(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path
) -> None:
    sku = new_sku()
    product_id = await product_in_stock(gateway, sku=sku, units=1)
    body = checkout(sku, quantity=2, locale="en")
    with paused(stack, "catalog-http"):  # checkout cannot hold the units: it stores the order all the same
        placed = (await place_order(gateway, body)).json()

    order = await wait_for_status(gateway, placed, "rejected")
    assert order["status_reason"] == "out_of_stock"
    assert order["payments"]["items"] == []
    assert await available(gateway, product_id) == 1

    async def emailed() -> None:
        assert len(emails_to(mail_dir, body["email"])) == 1

    await eventually(emailed, timeout=20)


@pytest.mark.parametrize(
    ("token", "decline_code"),
    [("tok_card_declined", "card_declined"), ("tok_insufficient_funds", "insufficient_funds")],
)
async def test_a_declined_card_releases_the_stock_and_rejects_the_order(
    gateway: httpx.AsyncClient, mail_dir: Path, token: str, decline_code: str
) -> None:
    sku = new_sku()
    product_id = await product_in_stock(gateway, sku=sku, units=3)
    body = checkout(sku, quantity=2, token=token, locale="ko")
    placed = (await place_order(gateway, body)).json()

    order = await wait_for_status(gateway, placed, "rejected")
    assert order["status_reason"] == "payment_declined"
    assert [(p["status"], p["decline_code"]) for p in order["payments"]["items"]] == [
        ("failed", decline_code)
    ]
    assert order["payments"]["captured"] == 0

    async def stock_released() -> None:
        assert await available(gateway, product_id) == 3

    await eventually(stock_released)

    async def emailed() -> None:
        assert len(emails_to(mail_dir, body["email"])) == 1

    await eventually(emailed, timeout=20)


async def test_a_retried_checkout_places_one_order_and_charges_once(gateway: httpx.AsyncClient) -> None:
    sku = new_sku()
    product_id = await product_in_stock(gateway, sku=sku, units=5)
    body = checkout(sku, quantity=1)
    key = str(uuid.uuid4())
    first = await place_order(gateway, body, key=key)
    assert first.status_code == 202, first.text
    retries = await asyncio.gather(
        *(gateway.post("/v1/orders", json=body, headers={"Idempotency-Key": key}) for _ in range(3))
    )
    assert {r.status_code for r in retries} == {202}
    assert {r.json()["id"] for r in retries} == {first.json()["id"]}

    order = await wait_for_status(gateway, first.json(), "confirmed")
    assert [p["amount"] for p in order["payments"]["items"]] == [order["totals"]["total"]]
    assert await available(gateway, product_id) == 4

    other_body = checkout(sku, quantity=2)
    reused = await gateway.post("/v1/orders", json=other_body, headers={"Idempotency-Key": key})
    assert reused.status_code == 422
    assert reused.headers["content-type"] == "application/problem+json"
    assert reused.json()["code"] == "idempotency_key_reused"


async def test_a_message_delivered_twice_takes_effect_once(gateway: httpx.AsyncClient, stack: Stack) -> None:
    """Re-deliver the exact ReserveStock and CapturePayment messages of a confirmed order (same message ids)."""
    sku = new_sku()
    product_id = await product_in_stock(gateway, sku=sku, units=5)
    connection = await aio_pika.connect(stack.config.amqp_url)
    channel = await connection.channel()
    tap = await channel.declare_queue(exclusive=True)
    await tap.bind("shop.commands", routing_key="#")
    placed = (await place_order(gateway, checkout(sku, quantity=2))).json()
    await wait_for_status(gateway, placed, "confirmed")

    copies: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def commands_seen() -> None:
        while (message := await tap.get(no_ack=True, fail=False)) is not None:
            copies.append(message)
        types = {m.type for m in copies if json.loads(m.body)["subject"] == placed["id"]}
        assert {"catalog.stock.reserve.v1", CapturePayment.TYPE} <= types

    await eventually(commands_seen)
    publisher = await connection.channel(publisher_confirms=True)
    commands = await publisher.get_exchange("shop.commands")
    replayed = [
        m
        for m in copies
        if m.type in ("catalog.stock.reserve.v1", CapturePayment.TYPE)
        and json.loads(m.body)["subject"] == placed["id"]
    ]
    for message in replayed:
        await commands.publish(
            aio_pika.Message(
                message.body, message_id=message.message_id, type=message.type, headers=message.headers
            ),
            routing_key=message.routing_key or "",
        )

    def duplicates_ignored() -> None:
        logs = stack.log_tails(["catalog-worker", "payments-worker"], lines=400)
        for message in replayed:
            assert f"duplicate {message.type} {message.message_id} ignored" in logs

    await eventually(duplicates_ignored)
    order = await order_as_customer(gateway, placed)
    assert len(order["payments"]["items"]) == 1
    assert order["payments"]["captured"] == order["totals"]["total"]
    assert await available(gateway, product_id) == 3
    await connection.close()


async def test_bad_input_gets_a_problem_that_names_the_field(gateway: httpx.AsyncClient) -> None:
    body = checkout("NOPE-1")
    body["lines"][0]["quantity"] = 0
    body["shipping_address"]["country"] = "Korea"
    response = await gateway.post("/v1/orders", json=body, headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"lines[0].quantity", "shipping_address.country"} <= fields

    missing_key = await gateway.post("/v1/orders", json=checkout("NOPE-1"))
    assert missing_key.status_code == 422
    assert "header:idempotency-key" in {e["field"].lower() for e in missing_key.json()["errors"]}

    unknown = await place_order(gateway, checkout("NOPE-1"), timeout=0)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "lines[0].sku"


async def test_staff_and_warehouse_calls_need_their_key(gateway: httpx.AsyncClient) -> None:
    product = {"title": "X", "variants": [{"sku": new_sku(), "prices": [{"currency": "KRW", "amount": 1}]}]}
    assert (await gateway.post("/v1/admin/products", json=product)).status_code == 401
    assert (
        await gateway.post("/v1/admin/products", json=product, headers={"X-Api-Key": "wrong-key-000000000"})
    ).status_code == 401
    assert (await gateway.post("/v1/admin/products", json=product, headers=WAREHOUSE)).status_code == 403
    assert (
        await gateway.get("/v1/warehouse/pick-requests", params={"location": "seoul-1"}, headers=STAFF)
    ).status_code == 403
    assert (
        await gateway.get(f"/v1/orders/{uuid.uuid4()}", headers={"Authorization": "Bearer nope"})
    ).status_code == 404


async def test_the_gateway_is_ready_and_documents_its_api(gateway: httpx.AsyncClient) -> None:
    assert (await gateway.get("/health")).json() == {"status": "ok"}
    assert (await gateway.get("/ready")).status_code == 200
    openapi = (await gateway.get("/openapi.json")).json()
    assert {
        "/v1/orders",
        "/v1/orders/{order_id}",
        "/v1/admin/products",
        "/v1/warehouse/pick-requests",
    } <= set(openapi["paths"])
    assert (await gateway.get("/docs")).status_code == 200


async def test_the_same_checkout_sent_many_times_at_once_places_one_order(gateway: httpx.AsyncClient) -> None:
    # More requests at once than orders' connection pool holds (5, no overflow): the ones that lose the
    # idempotency-key race give their connection back before they look up the winner.
    sku = new_sku()
    await product_in_stock(gateway, sku=sku, units=50)
    body, key = checkout(sku), str(uuid.uuid4())
    responses = await asyncio.gather(*(place_order(gateway, body, key=key) for _ in range(12)))
    assert {response.status_code for response in responses} == {202}, [r.text for r in responses]
    assert len({response.json()["id"] for response in responses}) == 1
