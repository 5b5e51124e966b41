"""Totals through the gateway of a running shop: US sales tax added on top (charged, and its share refunded with a
return), and shipping methods: same-day offered and refused by address and by where the stock is."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import bearer, checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    ADDRESS,
    STAFF,
    WAREHOUSE,
    as_staff,
    order_as_customer,
    place_order,
    product,
    ship_and_deliver,
    wait_for_status,
)
from tests.system.test_deferred_balances import audit

pytestmark = pytest.mark.system

CALIFORNIA = {
    "name": "Sam Lee",
    "line1": "1 Market St",
    "city": "San Francisco",
    "region": "CA",
    "postal_code": "94105",
    "country": "US",
}
BUSAN = {**ADDRESS, "city": "Busan", "postal_code": "48058"}


async def stock(gateway: httpx.AsyncClient, sku: str, location: str, units: int) -> None:
    adjusted = await as_staff(gateway).adjust_inventory(sku, units, location=location)
    assert adjusted.status_code == 201, adjusted.text


async def fulfillment_of(gateway: httpx.AsyncClient, placed: dict[str, Any]) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def released() -> None:
        view = await order_as_customer(gateway, placed)
        found[:] = [g for g in view["shipment_groups"] if g["fulfillment_id"]]
        assert found, view["shipment_groups"]

    await eventually(released)
    return found[0]


async def test_a_californian_order_pays_sales_tax_on_top_and_a_return_refunds_its_share(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    sku = new_sku("USD")
    await product(gateway, sku=sku, prices={"USD": 5000})
    await stock(gateway, sku, "seoul-1", 5)
    body = {
        **checkout(sku, quantity=2, locale="en"),
        "currency": "USD",
        "shipping_address": CALIFORNIA,
    }
    response = await place_order(gateway, body)
    assert response.status_code == 202, response.text
    placed = response.json()
    order = await wait_for_status(gateway, placed, "confirmed")
    # 7.25 % California sales tax on 100.00 + 5.00 shipping = 761.25 cents, rounded half up once per order.
    assert order["totals"] == {
        "subtotal": 10000,
        "shipping": 500,
        "discount": 0,
        "tax": 761,
        "tax_included": False,
        "total": 11261,
    }
    assert order["tax_rate"] == 725
    assert [(p["status"], p["amount"]) for p in order["payments"]["items"]] == [("succeeded", 11261)]

    group = await fulfillment_of(gateway, placed)
    await ship_and_deliver(gateway, group["fulfillment_id"], f"UPS{sku}")
    await wait_for_status(gateway, placed, "delivered")

    asked = await gateway.post(
        f"/v1/orders/{placed['id']}/returns",
        json={"lines": [{"sku": sku, "quantity": 1}], "reason": "damaged"},
        headers=bearer(placed["access_token"]),
    )
    assert asked.status_code == 201, asked.text
    return_id = asked.json()["id"]
    approved = await gateway.post(f"/v1/admin/returns/{return_id}/approve", headers=STAFF)
    assert approved.status_code == 200, approved.text

    async def received() -> None:
        answer = await gateway.post(
            f"/v1/warehouse/returns/{return_id}/received",
            json={"lines": [{"sku": sku, "quantity": 1, "condition": "damaged"}]},
            headers=WAREHOUSE,
        )
        assert answer.status_code == 200, answer.text

    await eventually(received, timeout=20)  # 404 until the label exists

    async def refunded() -> None:
        listed = await gateway.get(
            f"/v1/orders/{placed['id']}/returns", headers=bearer(placed["access_token"])
        )
        done = next(item for item in listed.json()["items"] if item["id"] == return_id)
        assert done["status"] == "refunded", done
        # 50.00 back (damaged: no fees) and its share of the tax: 761 * 5000 // 10500 = 362 cents.
        assert (done["value"], done["tax_refunded"], done["refund"]) == (5000, 362, 5362)
        view = await order_as_customer(gateway, placed)
        assert view["payments"]["refunded"] == 5362, view["payments"]

    await eventually(refunded, timeout=20)
    # The audit agrees: paid equals the total with its tax, and the refund stays within what was captured.
    checked = audit(stack)
    assert not [line for line in checked.stdout.splitlines() if placed["id"] in line], checked.stdout


async def test_same_day_is_listed_and_allowed_where_a_location_holding_the_cart_delivers_the_same_day(
    gateway: httpx.AsyncClient,
) -> None:
    sku = new_sku("SDY")
    await product(gateway, sku=sku, prices={"KRW": 39000})
    await stock(gateway, sku, "seoul-1", 2)
    await stock(gateway, sku, "busan-1", 20)  # fuller: a standard order would leave from Busan
    cart = {"currency": "KRW", "lines": [{"sku": sku, "quantity": 2}]}

    async def rates(address: dict[str, str]) -> dict[str, Any]:
        answer = await gateway.post("/v1/shipping-rates", json={**cart, "shipping_address": address})
        assert answer.status_code == 200, answer.text
        return {method["method"]: method for method in answer.json()["methods"]}

    async def listed() -> None:
        in_seoul = await rates(ADDRESS)
        assert in_seoul["same_day"]["available"] is True, in_seoul
        assert (in_seoul["same_day"]["shipping"], in_seoul["same_day"]["total"]) == (9000, 87000)
        assert (in_seoul["standard"]["shipping"], in_seoul["express"]["shipping"]) == (3000, 6000)
        in_busan = await rates(BUSAN)
        assert in_busan["same_day"]["available"] is False
        assert "does not reach 48058, Busan" in in_busan["same_day"]["reason"]
        assert in_busan["standard"]["available"] is True

    await eventually(listed)  # orders hears of the new SKU from catalog

    refused = await place_order(
        gateway, {**checkout(sku, quantity=2), "shipping_address": BUSAN, "shipping_method": "same_day"}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "same_day_unavailable"
    assert refused.json()["errors"][0]["field"] == "shipping_method"

    response = await place_order(gateway, {**checkout(sku, quantity=2), "shipping_method": "same_day"})
    assert response.status_code == 202, response.text
    placed = response.json()
    order = await wait_for_status(gateway, placed, "confirmed")
    assert (order["totals"]["shipping"], order["totals"]["total"]) == (9000, 87000)
    assert [(p["status"], p["amount"]) for p in order["payments"]["items"]] == [("succeeded", 87000)]
    group = await fulfillment_of(gateway, placed)
    assert group["location"] == "seoul-1"


async def test_same_day_is_refused_when_the_cart_is_not_in_stock_where_it_delivers_the_same_day(
    gateway: httpx.AsyncClient,
) -> None:
    sku = new_sku("SDN")
    await product(gateway, sku=sku, prices={"KRW": 39000})
    await stock(gateway, sku, "busan-1", 5)
    body = {**checkout(sku, quantity=1), "shipping_method": "same_day"}
    refused = await place_order(gateway, body)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "same_day_unavailable"
    assert "not every line is in stock" in problem["errors"][0]["message"]
    # Nothing was placed: the same cart ships by standard shipping from Busan.
    standard = await place_order(gateway, {**body, "shipping_method": "standard"}, key=str(uuid.uuid4()))
    assert standard.status_code == 202, standard.text
    order = await wait_for_status(gateway, standard.json(), "confirmed")
    assert (await fulfillment_of(gateway, standard.json()))["location"] == "busan-1"
    assert order["totals"]["shipping"] == 3000
