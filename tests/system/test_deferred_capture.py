"""Capture at shipment, through the gateway of a running shop whose payments processes run with
``SHOP_PAYMENTS_CAPTURE_MODE=at_shipment``: an in-stock order is authorised at checkout and captured when it
ships, a short pick releases its part of the hold, a cancellation before shipment voids the hold (nothing is
refunded), and a hold that lapses before shipment is paid off session with the saved card."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    as_warehouse,
    emails_to,
    order_as_customer,
    place_order,
    product_in_stock,
    text_of,
    wait_for_status,
)
from tests.system.test_cancellations import cancel, fulfillment_of, report

pytestmark = pytest.mark.system

AT_SHIPMENT = {"SHOP_PAYMENTS_CAPTURE_MODE": "at_shipment"}


@pytest.fixture(scope="module", autouse=True)
def capture_at_shipment(stack: Stack) -> Iterator[None]:
    """Payments' processes capture at shipment for these tests, and at checkout again after them."""
    for name in ("payments-worker", "payments-http"):
        stack.restart(name, extra_env=AT_SHIPMENT)
    try:
        stack.wait_http("payments-http", timeout=60)
        stack.wait_worker("payments-worker")
        yield
    finally:
        for name in ("payments-worker", "payments-http"):
            stack.restart(name)
        stack.wait_http("payments-http", timeout=60)
        stack.wait_worker("payments-worker")


async def payments_when(
    gateway: httpx.AsyncClient, placed: dict[str, Any], **expected: int
) -> dict[str, Any]:
    """The order's payments once its ledger shows ``expected`` (authorised, captured, voided, ...)."""
    seen: dict[str, Any] = {}

    async def reached() -> None:
        order = await order_as_customer(gateway, placed)
        seen.update(order)
        shown = {name: order["payments"].get(name) for name in expected}
        assert shown == expected, order["payments"]

    await eventually(reached, timeout=45)
    return seen


def kinds(order: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(item["kind"], item["status"], item["amount"]) for item in order["payments"]["items"]]


async def test_an_in_stock_order_is_authorised_at_checkout_and_captured_when_it_ships(
    gateway: httpx.AsyncClient,
) -> None:
    sku = new_sku("HOLD")
    await product_in_stock(gateway, sku=sku, units=5, price=39000)
    placed = (await place_order(gateway, checkout(sku))).json()
    order = await wait_for_status(gateway, placed, "confirmed")
    total = order["totals"]["total"]
    held = await payments_when(gateway, placed, authorised=total, held=total, captured=0)
    assert kinds(held) == [("authorization", "succeeded", total)]

    await as_warehouse(gateway).ship_and_deliver(await fulfillment_of(gateway, placed), "CJ-HOLD-1")
    await wait_for_status(gateway, placed, "delivered")
    paid = await payments_when(gateway, placed, authorised=total, held=0, captured=total, refunded=0)
    assert ("capture", "succeeded", total) in kinds(paid)


async def test_a_partial_shipment_captures_part_and_releases_the_rest(gateway: httpx.AsyncClient) -> None:
    sku = new_sku("HOLDSHORT")
    await product_in_stock(gateway, sku=sku, units=5, price=10000)
    placed = (await place_order(gateway, checkout(sku, quantity=3))).json()
    order = await wait_for_status(gateway, placed, "confirmed")
    total = order["totals"]["total"]
    fulfillment_id = await fulfillment_of(gateway, placed)
    picked = await report(gateway, fulfillment_id, {"type": "picked", "lines": [{"sku": sku, "quantity": 2}]})
    assert picked.status_code == 200, picked.text
    # The missing unit's money is released from the hold before anything is taken.
    await payments_when(gateway, placed, authorised=total, voided=10000, captured=0, refunded=0)
    for event in (
        {"type": "packed"},
        {"type": "shipped", "carrier": "CJ Logistics", "tracking_number": "CJ-HOLD-SHORT"},
    ):
        assert (await report(gateway, fulfillment_id, event)).status_code == 200
    await wait_for_status(gateway, placed, "partially_fulfilled")
    await payments_when(
        gateway, placed, authorised=total, voided=10000, captured=total - 10000, held=0, refunded=0
    )


async def test_a_cancellation_before_shipment_voids_the_hold_and_refunds_nothing(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    sku = new_sku("HOLDCANCEL")
    await product_in_stock(gateway, sku=sku, units=5, price=25000)
    body = checkout(sku, locale="en")
    placed = (await place_order(gateway, body)).json()
    order = await wait_for_status(gateway, placed, "confirmed")
    total = order["totals"]["total"]
    await payments_when(gateway, placed, held=total)
    answer = await cancel(gateway, placed)
    assert answer.status_code in (200, 202), answer.text
    await wait_for_status(gateway, placed, "cancelled")
    voided = await payments_when(
        gateway, placed, authorised=total, voided=total, held=0, captured=0, refunded=0
    )
    [released] = voided["payments"]["refunds"]
    assert released["amount"] == total
    assert [part.get("voided") for part in released["parts"]] == [True]

    # The customer is told the hold is released, not that money they never paid is refunded.
    async def told() -> None:
        cancelled = [
            text_of(mail)
            for mail in emails_to(stack.config.mail_dir, body["email"])
            if "cancelled" in str(mail["Subject"]).lower()
        ]
        assert len(cancelled) == 1, f"cancellation emails so far: {len(cancelled)}"
        [email] = cancelled
        assert "held on your card for it is released" in email, email
        assert "We are refunding" not in email

    await eventually(told, timeout=60)


async def test_a_hold_that_lapses_before_shipment_is_paid_off_session_with_the_saved_card(
    gateway: httpx.AsyncClient,
) -> None:
    sku = new_sku("HOLDLAPSE")
    await product_in_stock(gateway, sku=sku, units=5, price=39000)
    placed = (await place_order(gateway, checkout(sku, token="tok_hold_expires_early"))).json()
    order = await wait_for_status(gateway, placed, "confirmed")
    total = order["totals"]["total"]
    # The sandbox holds this card for a minute: payments settles it at once, releasing it and charging the
    # saved card off session for the total, before anything ships.
    replaced = await payments_when(gateway, placed, authorised=total, expired=total, captured=total, held=0)
    assert ("replacement", "succeeded", total) in kinds(replaced)

    await as_warehouse(gateway).ship_and_deliver(await fulfillment_of(gateway, placed), "CJ-HOLD-LAPSE")
    await wait_for_status(gateway, placed, "delivered")
    shipped = await payments_when(gateway, placed, captured=total, held=0, refunded=0)
    # The shipment takes nothing more: the order was paid once.
    assert [
        amount for kind, status, amount in kinds(shipped) if kind == "capture" and status == "succeeded"
    ] == [0]
