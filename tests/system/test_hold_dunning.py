"""A lapsed card hold that cannot be charged goes into dunning, through the gateway of a running shop whose
payments processes capture at shipment and whose clock the tests move: the customer is emailed why and where
to replace the card, the charge is tried again a day later, and a new card is charged at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import bearer, checkout, new_sku
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
from tests.system.test_cancellations import fulfillment_of

pytestmark = pytest.mark.system

AT_SHIPMENT = {"SHOP_PAYMENTS_CAPTURE_MODE": "at_shipment"}
NOT_CHARGED = "We could not charge your card for order"


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


def kinds(order: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(item["kind"], item["status"], item["amount"]) for item in order["payments"]["items"]]


async def payments_when(
    gateway: httpx.AsyncClient, placed: dict[str, Any], check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> None:
        order = await order_as_customer(gateway, placed)
        seen.update(order)
        assert check(order), order["payments"]

    await eventually(reached, timeout=60)
    return seen


async def test_a_lapsed_hold_that_cannot_be_charged_is_dunned_and_a_new_card_pays_it(
    gateway: httpx.AsyncClient, stack: Stack, clock: Callable[[timedelta], None]
) -> None:
    mail_dir: Path = stack.config.mail_dir
    sku = new_sku("HOLDDUN")
    await product_in_stock(gateway, sku=sku, units=5, price=39000)
    body = checkout(sku, token="tok_hold_expires_declined", locale="en")
    placed = (await place_order(gateway, body)).json()
    order = await wait_for_status(gateway, placed, "confirmed")
    total = order["totals"]["total"]

    # The sandbox holds this card for a minute: payments releases the hold at once and charges the saved card
    # off session, which declines it. The customer hears why, and where to replace the card.
    def not_charged() -> list[str]:
        mails = emails_to(mail_dir, body["email"])
        return [text_of(mail) for mail in mails if NOT_CHARGED in str(mail["Subject"])]

    async def told_once() -> None:
        texts = not_charged()
        assert len(texts) == 1, texts
        assert "your card was declined" in texts[0]
        assert f"/orders/{placed['id']}/payment" in texts[0]
        assert "we will try again on" in texts[0]

    await eventually(told_once, timeout=90)
    declined = await payments_when(gateway, placed, lambda o: ("replacement", "failed", total) in kinds(o))
    assert declined["payments"]["captured"] == 0
    assert declined["payments"]["expired"] == total

    # A day later payments tries the same card again: declined again, and the customer is told again.
    clock(timedelta(hours=25))

    async def told_twice() -> None:
        assert len(not_charged()) == 2

    await eventually(told_twice, timeout=60)
    await payments_when(gateway, placed, lambda o: kinds(o).count(("replacement", "failed", total)) == 2)

    # The customer replaces the card: it is charged at once, not a day later.
    replaced = await gateway.put(
        f"/v1/orders/{placed['id']}/payment-method",
        json={"token": "tok_visa"},
        headers=bearer(placed["access_token"]),
    )
    assert replaced.status_code == 200, replaced.text
    paid = await payments_when(gateway, placed, lambda o: o["payments"]["captured"] == total)
    assert ("replacement", "succeeded", total) in kinds(paid)

    # The shipment takes nothing more of the lapsed hold: the order was paid once.
    await as_warehouse(gateway).ship_and_deliver(await fulfillment_of(gateway, placed), "CJ-HOLD-DUN")
    await wait_for_status(gateway, placed, "delivered")
    shipped = await payments_when(gateway, placed, lambda o: o["payments"]["held"] == 0)
    assert shipped["payments"]["captured"] == total
    assert shipped["payments"]["refunded"] == 0
    assert len(not_charged()) == 2
