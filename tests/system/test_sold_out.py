"""Buyers who miss out hear it at once: a checkout for a SKU catalog said is sold out answers 409 ``sold_out``
from orders' copy of catalog's availability, and checkout sells again once units come back (a cancellation
releases them, staff count more in, a pre-order place is given back)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import STAFF, place_order, product, product_in_stock, put_on_preorder, wait_for_status
from tests.system.test_cancellations import cancel

pytestmark = pytest.mark.system


async def answered(gateway: httpx.AsyncClient, sku: str, status: int) -> httpx.Response:
    """Check out one unit of ``sku`` until the gateway answers ``status`` (orders hears catalog's word)."""
    answers: list[httpx.Response] = []

    async def as_expected() -> None:
        answers.append(await place_order(gateway, checkout(sku)))
        assert answers[-1].status_code == status, answers[-1].text

    await eventually(as_expected, timeout=15)
    return answers[-1]


async def sold_out_at_once(gateway: httpx.AsyncClient, sku: str) -> dict[str, Any]:
    refused = await answered(gateway, sku, 409)
    problem: dict[str, Any] = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "sold_out"
    assert [error["field"] for error in problem["errors"]] == ["lines[0].sku"]
    # Decided at checkout, before anything is stored: the same buyer's retry (same key) is refused the same way,
    # where a checkout that had been stored and rejected later would answer 202 with that order.
    key = {"Idempotency-Key": new_sku("KEY")}
    again = [await gateway.post("/v1/orders", json=checkout(sku), headers=key) for _ in range(2)]
    assert [answer.status_code for answer in again] == [409, 409]
    assert [answer.json()["code"] for answer in again] == ["sold_out", "sold_out"]
    return problem


async def test_a_sold_out_sku_is_refused_at_once_and_sold_again_after_a_cancellation_and_a_restock(
    gateway: httpx.AsyncClient,
) -> None:
    sku = new_sku("GONE")
    await product_in_stock(gateway, sku=sku, units=2)
    first = (await place_order(gateway, checkout(sku))).json()
    second = (await place_order(gateway, checkout(sku))).json()
    await wait_for_status(gateway, first, "confirmed")
    await wait_for_status(gateway, second, "confirmed")

    problem = await sold_out_at_once(gateway, sku)
    assert "sold out" in problem["errors"][0]["message"]

    assert (await cancel(gateway, first)).status_code == 200
    back = await answered(gateway, sku, 202)
    await wait_for_status(gateway, back.json(), "confirmed")

    await sold_out_at_once(gateway, sku)
    restocked = await gateway.post(
        "/v1/admin/inventory/adjustments",
        headers=STAFF,
        json={"sku": sku, "location": "seoul-1", "delta": 3, "reason": "received"},
    )
    assert restocked.status_code == 201, restocked.text
    after_restock = await answered(gateway, sku, 202)
    await wait_for_status(gateway, after_restock.json(), "confirmed")


async def test_a_full_preorder_is_refused_at_once_until_a_place_is_given_back(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    sku = new_sku("FULL")
    await product(gateway, sku=sku, prices={"KRW": 10000})
    await put_on_preorder(stack, gateway, sku, {"payment_mode": "pay_now", "cap": 1})
    taken = (await place_order(gateway, checkout(sku))).json()
    await wait_for_status(gateway, taken, "confirmed")

    problem = await sold_out_at_once(gateway, sku)
    assert "pre-order is full" in problem["errors"][0]["message"]

    assert (await cancel(gateway, taken)).status_code == 200
    back = await answered(gateway, sku, 202)
    await wait_for_status(gateway, back.json(), "confirmed")


async def test_in_a_drop_every_buyer_who_gets_202_has_a_unit_and_every_other_hears_409_at_checkout(
    gateway: httpx.AsyncClient,
) -> None:
    sku = new_sku("DROP")
    await product_in_stock(gateway, sku=sku, units=3)

    answers = await asyncio.gather(*(place_order(gateway, checkout(sku)) for _ in range(10)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] * 3 + [409] * 7, [answer.text for answer in answers]
    assert {answer.json()["code"] for answer in answers if answer.status_code == 409} == {"sold_out"}
    for answer in answers:
        if answer.status_code == 202:
            await wait_for_status(gateway, answer.json(), "confirmed")
