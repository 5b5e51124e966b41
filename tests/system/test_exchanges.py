"""Exchanges through the gateway of a running shop: a delivered unit goes back and another size of the same product
comes as a new shipment of the order, the price difference charged off-session; a replacement out of stock is
refunded instead and the customer is told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import bearer, checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    STAFF,
    WAREHOUSE,
    available,
    emails_to,
    order_as_customer,
    place_order,
    ship_and_deliver,
    text_of,
    wait_for_status,
)
from tests.system.test_deferred_balances import audit

pytestmark = pytest.mark.system


async def shirt_in_two_sizes(gateway: httpx.AsyncClient, *, large_units: int) -> tuple[str, str, str]:
    medium, large = new_sku("EXM"), new_sku("EXL")
    created = await gateway.post(
        "/v1/admin/products",
        headers=STAFF,
        json={
            "title": "Oxford shirt",
            "variants": [
                {"sku": medium, "options": {"size": "M"}, "prices": [{"currency": "KRW", "amount": 39000}]},
                {"sku": large, "options": {"size": "L"}, "prices": [{"currency": "KRW", "amount": 42000}]},
            ],
        },
    )
    assert created.status_code == 201, created.text
    for sku, units in ((medium, 3), (large, large_units)):
        if units:
            adjusted = await gateway.post(
                "/v1/admin/inventory/adjustments",
                headers=STAFF,
                json={"sku": sku, "location": "seoul-1", "delta": units, "reason": "received"},
            )
            assert adjusted.status_code == 201, adjusted.text
    return str(created.json()["id"]), medium, large


async def delivered(gateway: httpx.AsyncClient, sku: str) -> dict[str, Any]:
    response = await place_order(gateway, checkout(sku, quantity=1, locale="en"))
    assert response.status_code == 202, response.text
    placed: dict[str, Any] = response.json()
    await wait_for_status(gateway, placed, "confirmed")
    groups: list[str] = []

    async def released() -> None:
        view = await order_as_customer(gateway, placed)
        groups[:] = [g["fulfillment_id"] for g in view["shipment_groups"] if g["fulfillment_id"]]
        assert groups

    await eventually(released)
    await ship_and_deliver(gateway, groups[0], f"CJ{sku}")
    await wait_for_status(gateway, placed, "delivered")
    return placed


async def exchange_of(gateway: httpx.AsyncClient, placed: dict[str, Any], return_id: str) -> dict[str, Any]:
    listed = await gateway.get(f"/v1/orders/{placed['id']}/returns", headers=bearer(placed["access_token"]))
    assert listed.status_code == 200, listed.text
    found: dict[str, Any] = next(item for item in listed.json()["items"] if item["id"] == return_id)
    return found


async def send_back(gateway: httpx.AsyncClient, placed: dict[str, Any], medium: str, large: str) -> str:
    other_product = await gateway.post(
        f"/v1/orders/{placed['id']}/returns",
        json={"lines": [{"sku": medium, "quantity": 1, "exchange_for": "NOT-A-SKU"}], "reason": "size"},
        headers=bearer(placed["access_token"]),
    )
    assert other_product.status_code == 422, other_product.text
    assert other_product.json()["code"] == "exchange_refused"
    assert other_product.json()["errors"][0]["field"] == "lines[0].exchange_for"
    asked = await gateway.post(
        f"/v1/orders/{placed['id']}/returns",
        json={"lines": [{"sku": medium, "quantity": 1, "exchange_for": large}], "reason": "size"},
        headers=bearer(placed["access_token"]),
    )
    assert asked.status_code == 201, asked.text
    return_id = str(asked.json()["id"])
    assert asked.json()["exchange"]["status"] == "requested"
    assert asked.json()["exchange"]["items"][0]["replacement_unit_price"] == 42000
    approved = await gateway.post(f"/v1/admin/returns/{return_id}/approve", headers=STAFF)
    assert approved.status_code == 200, approved.text

    async def received() -> None:
        answer = await gateway.post(
            f"/v1/warehouse/returns/{return_id}/received",
            json={"lines": [{"sku": medium, "quantity": 1, "condition": "resellable"}]},
            headers=WAREHOUSE,
        )
        assert answer.status_code == 200, answer.text

    await eventually(received, timeout=20)  # 404 until the label exists
    return return_id


async def test_a_larger_size_replaces_the_returned_one_and_the_difference_is_charged(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    _, medium, large = await shirt_in_two_sizes(gateway, large_units=2)
    placed = await delivered(gateway, medium)
    return_id = await send_back(gateway, placed, medium, large)

    async def charged_and_released() -> None:
        found = await exchange_of(gateway, placed, return_id)
        assert found["exchange"]["status"] == "released", found
        assert (found["exchange"]["price_difference"], found["exchange"]["charged"]) == (3000, 3000)
        view = await order_as_customer(gateway, placed)
        amounts = sorted(p["amount"] for p in view["payments"]["items"] if p["status"] == "succeeded")
        assert amounts == [3000, 42000], view["payments"]
        assert view["totals"]["total"] == 45000

    await eventually(charged_and_released, timeout=30)
    view = await order_as_customer(gateway, placed)
    exchange_group = next(g for g in view["shipment_groups"] if g["kind"] == "exchange")
    assert [(line["sku"], line["quantity"]) for line in exchange_group["lines"]] == [(large, 1)]

    async def picked_up() -> None:
        groups = (await order_as_customer(gateway, placed))["shipment_groups"]
        assert next(g for g in groups if g["kind"] == "exchange")["fulfillment_id"]

    await eventually(picked_up)
    groups = (await order_as_customer(gateway, placed))["shipment_groups"]
    fulfillment_id = next(g for g in groups if g["kind"] == "exchange")["fulfillment_id"]
    await ship_and_deliver(gateway, fulfillment_id, f"CJX{large}")

    async def exchange_delivered() -> None:
        assert (await exchange_of(gateway, placed, return_id))["exchange"]["status"] == "delivered"

    await eventually(exchange_delivered)
    # The money of the order still adds up across services: 42,000 + 3,000 captured, nothing refunded.
    checked = audit(stack)
    assert not [line for line in checked.stdout.splitlines() if placed["id"] in line], checked.stdout


async def test_a_replacement_out_of_stock_is_refunded_instead_and_the_customer_told(
    gateway: httpx.AsyncClient, mail_dir: Path, stack: Stack
) -> None:
    product_id, medium, large = await shirt_in_two_sizes(gateway, large_units=0)
    placed = await delivered(gateway, medium)
    return_id = await send_back(gateway, placed, medium, large)

    async def refunded_instead() -> None:
        found = await exchange_of(gateway, placed, return_id)
        assert found["exchange"]["status"] == "refunded_instead", found
        assert (found["status"], found["refund"]) == ("refunded", 39000)  # the shop's miss: no fees
        view = await order_as_customer(gateway, placed)
        assert view["payments"]["refunded"] == 39000, view["payments"]

    await eventually(refunded_instead, timeout=30)
    assert await available(gateway, product_id) >= 0

    async def told() -> None:
        texts = [
            text_of(message)
            for message in emails_to(mail_dir, (await order_as_customer(gateway, placed))["email"])
        ]
        assert any("could not be made" in text and large in text for text in texts), texts

    await eventually(told, timeout=20)
    checked = audit(stack)
    assert not [line for line in checked.stdout.splitlines() if placed["id"] in line], checked.stdout
