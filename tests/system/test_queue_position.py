"""A waiting pre-order's place in the live queue, through the gateway: how many pre-orders still wait ahead of
it, moving as places ahead are cancelled or allocated (the queue position stays the ticket from checkout)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import Storefront, checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    access,
    expect_and_receive,
    place_order,
    product,
    product_in_stock,
    put_on_preorder,
    wait_for_status,
)

pytestmark = pytest.mark.system


async def line_of(gateway: httpx.AsyncClient, placed: dict[str, Any]) -> dict[str, Any]:
    [line] = (await Storefront(gateway).order(access(placed)))["lines"]
    assert isinstance(line, dict)
    return line


async def test_the_customers_ahead_count_moves_as_places_ahead_are_cancelled_and_allocated(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    sku = new_sku("FIGURE")
    await product(gateway, sku=sku, prices={"KRW": 59000})
    await put_on_preorder(stack, gateway, sku, {"payment_mode": "pay_now", "cap": 20})
    first, second, third = [
        (await place_order(gateway, checkout(sku, quantity=quantity))).json() for quantity in (2, 1, 3)
    ]
    for placed in (first, second, third):
        await wait_for_status(gateway, placed, "confirmed")

    line = await line_of(gateway, third)
    assert (line["queue_position"], line["ahead_of_you"], line["units_ahead"]) == (3, 2, 3)
    assert (await line_of(gateway, first))["ahead_of_you"] == 0

    cancelled = await Storefront(gateway).cancel(access(first), "changed_mind")
    assert cancelled.status_code == 200, cancelled.text

    async def one_ahead() -> None:
        line = await line_of(gateway, third)
        assert (line["queue_position"], line["ahead_of_you"], line["units_ahead"]) == (3, 1, 1)

    await eventually(one_ahead, timeout=20)

    await expect_and_receive(gateway, sku, expected=1, received=1)  # the second order's one unit

    async def first_in_line() -> None:
        line = await line_of(gateway, third)
        assert (line["ahead_of_you"], line["units_ahead"]) == (0, 0)
        allocated = await line_of(gateway, second)
        assert allocated["ahead_of_you"] is None  # no longer waiting

    await eventually(first_in_line, timeout=20)


async def test_an_in_stock_line_has_no_place_in_a_queue(gateway: httpx.AsyncClient) -> None:
    sku = new_sku("MUG")
    await product_in_stock(gateway, sku=sku, units=3, price=12000)
    placed = (await place_order(gateway, checkout(sku, quantity=1))).json()
    await wait_for_status(gateway, placed, "confirmed")

    line = await line_of(gateway, placed)

    assert (line["kind"], line["queue_position"], line["ahead_of_you"], line["units_ahead"]) == (
        "in_stock",
        None,
        None,
        None,
    )
