"""Pre-orders through the gateway of a running shop: payment modes, caps, limits, windows, tiers, receipts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    STAFF,
    emails_to,
    expect_and_receive,
    order_as_customer,
    place_order,
    product,
    product_in_stock,
    put_on_preorder,
    ship_and_deliver,
    text_of,
    wait_for_group,
    wait_for_status,
)

pytestmark = pytest.mark.system

SHIP_DATE = "2027-01-20"


def policy(payment_mode: str, **fields: Any) -> dict[str, Any]:
    return {"payment_mode": payment_mode, "cap": 100, "expected_ship_date": SHIP_DATE, **fields}


async def test_a_deposit_preorder_goes_from_checkout_through_receipt_and_balance_to_delivered(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("JACKET")
    product_id = await product(gateway, sku=sku, prices={"KRW": 39000})
    await put_on_preorder(stack, gateway, sku, policy("deposit", deposit_percent=30, cap=10))
    shown = (await gateway.get(f"/v1/products/{product_id}")).json()["variants"][0]["preorder"]
    assert shown["active"] is True
    assert shown["units_left"] == 10

    body = checkout(sku, quantity=2, locale="ko")
    placed = (await place_order(gateway, body)).json()
    order = await wait_for_status(gateway, placed, "confirmed")
    assert order["charged_at_checkout"] == 23400 + 3000  # 30 % of 78,000 plus shipping, once
    assert order["payments"]["captured"] == 26400
    [line] = order["lines"]
    assert (line["kind"], line["queue_position"], line["paid_now"], line["balance"]) == (
        "preorder",
        1,
        23400,
        54600,
    )
    assert order["waiting_preorders"][0]["quantity"] == 2

    async def confirmation_says_deposit_and_balance() -> None:
        texts = [text_of(message) for message in emails_to(mail_dir, body["email"])]
        assert any("23,400원" in text and "54,600원" in text for text in texts), texts

    await eventually(confirmation_says_deposit_and_balance, timeout=20)

    await expect_and_receive(gateway, sku, expected=2, received=2)
    # Nobody was reminded yet (the goods came before the day they were expected): remind now, charge in 24 h.
    order = await wait_for_group(gateway, placed, "balance_scheduled")
    [group] = [g for g in order["shipment_groups"] if g["kind"] == "preorder"]
    assert group["balance"] == 54600
    assert order["payments"]["captured"] == 26400

    async def reminded() -> None:
        texts = [text_of(message) for message in emails_to(mail_dir, body["email"])]
        assert any("결제될 예정" in text and "54,600원" in text for text in texts), texts

    await eventually(reminded, timeout=20)
    clock(timedelta(hours=25))
    order = await wait_for_group(gateway, placed, "pick_requested", timeout=30)
    assert order["payments"]["captured"] == 81000
    [group] = [g for g in order["shipment_groups"] if g["kind"] == "preorder"]

    await ship_and_deliver(gateway, group["fulfillment_id"], "CJPRE0001")
    order = await wait_for_status(gateway, placed, "delivered")
    events = [entry["event"] for entry in order["timeline"]]
    assert (
        events.index("preorder_allocated")
        < events.index("balance_reminder_sent")
        < events.index("balance_charged")
        < events.index("shipped")
    )


@pytest.mark.parametrize(("mode", "at_checkout", "balance"), [("pay_now", 81000, 0), ("pay_later", 0, 81000)])
async def test_pay_now_and_pay_later_preorders_reach_delivered(
    gateway: httpx.AsyncClient,
    stack: Stack,
    clock: Callable[[timedelta], None],
    mode: str,
    at_checkout: int,
    balance: int,
) -> None:
    sku = new_sku("SNEAKER")
    await product(gateway, sku=sku, prices={"KRW": 39000})
    await put_on_preorder(stack, gateway, sku, policy(mode))
    placed = (await place_order(gateway, checkout(sku, quantity=2))).json()
    order = await wait_for_status(gateway, placed, "confirmed")
    assert order["charged_at_checkout"] == at_checkout
    assert order["payments"]["captured"] == at_checkout

    await expect_and_receive(gateway, sku, expected=2, received=2)
    if balance:
        await wait_for_group(gateway, placed, "balance_scheduled")  # a day's notice before the charge
        clock(timedelta(hours=25))
    order = await wait_for_group(gateway, placed, "pick_requested", timeout=30)
    [group] = [g for g in order["shipment_groups"] if g["kind"] == "preorder"]
    assert group["balance"] == balance  # pay later: the balance carries the deferred shipping
    assert order["payments"]["captured"] == 81000
    await ship_and_deliver(gateway, group["fulfillment_id"], f"CJ{mode.upper()}")
    await wait_for_status(gateway, placed, "delivered")


async def test_ten_times_the_cap_racing_accepts_exactly_the_cap(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    sku = new_sku("DROP")
    product_id = await product(gateway, sku=sku, prices={"KRW": 10000})
    cap = 10
    await put_on_preorder(stack, gateway, sku, policy("pay_now", cap=cap))
    buyers = 10 * cap
    responses = await asyncio.gather(
        *(place_order(gateway, checkout(sku, quantity=1)) for _ in range(buyers))
    )
    # Buyers who check out after orders heard that the cap is full are told at once (409 sold_out).
    assert {response.status_code for response in responses} <= {202, 409}
    refused_at_once = [response for response in responses if response.status_code == 409]
    assert all(response.json()["code"] == "sold_out" for response in refused_at_once)
    placed = [response.json() for response in responses if response.status_code == 202]

    async def everyone_answered() -> None:
        statuses = [(await order_as_customer(gateway, p))["status"] for p in placed]
        assert statuses.count("pending") + statuses.count("reserved") == 0, statuses

    await eventually(everyone_answered, timeout=60)
    statuses = [(await order_as_customer(gateway, p))["status"] for p in placed]
    accepted = statuses.count("confirmed")
    rejected = statuses.count("rejected")
    print(f"\ncap race: {buyers=} {cap=} {accepted=} {rejected=} sold out at once={len(refused_at_once)}")
    assert accepted == cap
    assert rejected + len(refused_at_once) == buyers - cap
    shown = (await gateway.get(f"/v1/products/{product_id}")).json()["variants"][0]["preorder"]
    assert shown["units_left"] == 0


async def test_the_per_customer_limit_holds(gateway: httpx.AsyncClient, stack: Stack) -> None:
    sku = new_sku("LIMIT")
    await product(gateway, sku=sku, prices={"KRW": 10000})
    await put_on_preorder(stack, gateway, sku, policy("pay_now", per_customer_limit=2))
    first = (await place_order(gateway, checkout(sku, quantity=2, email="fan@example.com"))).json()
    await wait_for_status(gateway, first, "confirmed")
    second = await place_order(gateway, checkout(sku, quantity=1, email="fan@example.com"))
    assert second.status_code == 409, second.text
    assert (second.json()["code"], second.json()["errors"][0]["field"]) == (
        "purchase_limit_reached",
        "lines[0].sku",
    )
    other = (await place_order(gateway, checkout(sku, quantity=2, email="another@example.com"))).json()
    await wait_for_status(gateway, other, "confirmed")


async def test_the_window_opens_and_closes_on_time(
    gateway: httpx.AsyncClient, stack: Stack, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("WINDOW")
    await product(gateway, sku=sku, prices={"KRW": 10000})
    opens = datetime.now(UTC) + timedelta(days=2)
    await put_on_preorder(
        stack,
        gateway,
        sku,
        policy("pay_now", starts_at=opens.isoformat(), ends_at=(opens + timedelta(days=5)).isoformat()),
    )
    early = await place_order(gateway, checkout(sku))
    assert (early.status_code, early.json()["code"]) == (409, "preorder_not_open"), early.text
    assert "has not opened yet" in early.json()["errors"][0]["message"]

    clock(timedelta(days=3))
    during = (await place_order(gateway, checkout(sku))).json()
    await wait_for_status(gateway, during, "confirmed")

    clock(timedelta(days=8))
    late = await place_order(gateway, checkout(sku))
    assert (late.status_code, late.json()["code"]) == (409, "preorder_not_open"), late.text
    assert "has closed" in late.json()["errors"][0]["message"]


async def test_early_bird_tiers_change_at_their_boundaries_and_stay_fixed_for_an_order(
    gateway: httpx.AsyncClient, stack: Stack, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("EARLY")
    await product(gateway, sku=sku, prices={"KRW": 40000})
    starts = datetime.now(UTC) - timedelta(minutes=1)
    tiers = [{"until_day": 7, "percent_off": 25}, {"until_day": 10, "percent_off": 15}, {"percent_off": 5}]
    await put_on_preorder(
        stack, gateway, sku, policy("pay_now", starts_at=starts.isoformat(), early_bird_tiers=tiers)
    )
    prices = {}
    for day, offset in ((0, timedelta()), (7, timedelta(days=7)), (10, timedelta(days=10))):
        clock(offset)
        placed = (await place_order(gateway, checkout(sku))).json()
        order = await wait_for_status(gateway, placed, "confirmed")
        prices[day] = order["lines"][0]["unit_price"]
    assert prices == {0: 30000, 7: 34000, 10: 38000}


async def test_a_short_receipt_is_allocated_in_queue_order(gateway: httpx.AsyncClient, stack: Stack) -> None:
    sku = new_sku("SHORT")
    await product(gateway, sku=sku, prices={"KRW": 20000})
    await put_on_preorder(stack, gateway, sku, policy("pay_now"))
    placed = []
    for _ in range(3):  # one after another, so queue positions are 1, 2, 3
        order = (await place_order(gateway, checkout(sku, quantity=2))).json()
        confirmed = await wait_for_status(gateway, order, "confirmed")
        placed.append(order)
        assert confirmed["lines"][0]["queue_position"] == len(placed)

    await expect_and_receive(gateway, sku, expected=6, received=3)
    first = await wait_for_group(gateway, placed[0], "pick_requested")
    second = await wait_for_group(gateway, placed[1], "pick_requested")
    assert sum(g["lines"][0]["quantity"] for g in first["shipment_groups"]) == 2
    assert sum(g["lines"][0]["quantity"] for g in second["shipment_groups"]) == 1
    assert second["waiting_preorders"][0]["quantity"] == 1
    third = await order_as_customer(gateway, placed[2])
    assert third["shipment_groups"] == []
    assert third["waiting_preorders"][0]["quantity"] == 2


async def test_a_mixed_cart_ships_the_in_stock_part_now_and_charges_shipping_once(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    in_stock = new_sku("TEE")
    await product_in_stock(gateway, sku=in_stock, units=5, price=39000)
    preorder = new_sku("JACKET")
    await product(gateway, sku=preorder, prices={"KRW": 100000})
    await put_on_preorder(stack, gateway, preorder, policy("deposit", deposit_percent=20))
    body = checkout(in_stock)
    body["lines"].append({"sku": preorder, "quantity": 1})
    placed = (await place_order(gateway, body)).json()
    order = await wait_for_status(gateway, placed, "confirmed")
    assert order["charged_at_checkout"] == 39000 + 20000 + 3000
    assert order["totals"] == {
        "subtotal": 139000,
        "shipping": 3000,
        "discount": 0,
        "tax": 12909,
        "tax_included": True,
        "total": 142000,
    }

    async def in_stock_group_sent() -> None:
        view = await order_as_customer(gateway, placed)
        [group] = view["shipment_groups"]
        assert (group["kind"], group["status"]) == ("in_stock", "pick_requested")
        assert view["waiting_preorders"][0]["sku"] == preorder

    await eventually(in_stock_group_sent)


async def test_usd_deposits_round_half_up_to_the_cent(gateway: httpx.AsyncClient, stack: Stack) -> None:
    sku = new_sku("USD")
    await product(gateway, sku=sku, prices={"USD": 2995})
    await put_on_preorder(stack, gateway, sku, policy("deposit", deposit_percent=30))
    body = checkout(sku, quantity=3)
    body["currency"] = "USD"
    placed = (await place_order(gateway, body)).json()
    order = await wait_for_status(gateway, placed, "confirmed")
    [line] = order["lines"]
    assert (line["line_total"], line["paid_now"], line["balance"]) == (8985, 2696, 6289)  # 2695.5 rounds up
    assert order["charged_at_checkout"] == 2696 + 500


async def test_a_balance_that_fails_off_session_holds_the_group_and_tells_the_customer(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("FAILS")
    await product(gateway, sku=sku, prices={"KRW": 50000})
    await put_on_preorder(stack, gateway, sku, policy("deposit", deposit_percent=10))
    body = checkout(sku, token="tok_fails_later", locale="en")
    placed = (await place_order(gateway, body)).json()
    await wait_for_status(gateway, placed, "confirmed")
    await expect_and_receive(gateway, sku, expected=1, received=1)
    await wait_for_group(gateway, placed, "balance_scheduled")
    clock(timedelta(hours=25))
    order = await wait_for_group(gateway, placed, "balance_failed", timeout=30)
    assert order["payments"]["captured"] == 5000 + 3000

    async def told() -> None:
        texts = [text_of(message) for message in emails_to(mail_dir, body["email"])]
        assert any("did not go through" in text and "/payment" in text for text in texts), texts

    await eventually(told, timeout=20)


async def test_dunning_retries_then_cancels_and_the_unit_goes_to_the_next_customer(
    gateway: httpx.AsyncClient, stack: Stack, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("DUNNING")
    await product(gateway, sku=sku, prices={"KRW": 50000})
    await put_on_preorder(stack, gateway, sku, policy("deposit", deposit_percent=20))
    first = (await place_order(gateway, checkout(sku, token="tok_fails_later"))).json()
    await wait_for_status(gateway, first, "confirmed")
    second = (await place_order(gateway, checkout(sku))).json()
    await wait_for_status(gateway, second, "confirmed")

    await expect_and_receive(gateway, sku, expected=1, received=1)
    await wait_for_group(gateway, first, "balance_scheduled")
    clock(timedelta(hours=25))  # the day's notice after the reminder: the charge runs and declines
    await wait_for_group(gateway, first, "balance_failed", timeout=30)

    clock(timedelta(hours=50))  # the dunning retry is due after 24 h; the card still declines off session

    async def retried_and_failed_again() -> None:
        view = await order_as_customer(gateway, first)
        events = [entry["event"] for entry in view["timeline"]]
        assert "balance_retried" in events
        assert events.count("balance_failed") == 2

    await eventually(retried_and_failed_again, timeout=30)

    clock(timedelta(days=12))  # the dunning period (10 days from the first decline) is over
    cancelled = await wait_for_status(gateway, first, "cancelled", timeout=30)
    assert cancelled["status_reason"] == "balance_unpaid"

    async def deposit_refunded() -> None:
        view = await order_as_customer(gateway, first)
        assert view["payments"]["refunded"] == view["charged_at_checkout"] == 10000 + 3000

    await eventually(deposit_refunded, timeout=20)
    await wait_for_group(gateway, second, "balance_scheduled", timeout=30)  # reminded now, charged in 24 h
    clock(timedelta(days=13))
    promoted = await wait_for_group(gateway, second, "pick_requested", timeout=30)
    assert promoted["payments"]["captured"] == 53000


async def test_a_customer_cancels_a_waiting_preorder_and_gets_the_deposit_back(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    sku = new_sku("CANCEL")
    product_id = await product(gateway, sku=sku, prices={"KRW": 60000})
    await put_on_preorder(stack, gateway, sku, policy("deposit", deposit_percent=50, cap=5))
    placed = (await place_order(gateway, checkout(sku, quantity=2))).json()
    order = await wait_for_status(gateway, placed, "confirmed")
    assert order["charged_at_checkout"] == 60000 + 3000

    response = await gateway.post(
        f"/v1/orders/{placed['id']}/cancel",
        json={"reason": "delivery_time"},
        headers={"Authorization": f"Bearer {placed['access_token']}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["refund"] == 63000
    await wait_for_status(gateway, placed, "cancelled")

    async def refunded_and_place_freed() -> None:
        view = await order_as_customer(gateway, placed)
        assert view["payments"]["refunded"] == 63000
        shown = (await gateway.get(f"/v1/products/{product_id}")).json()["variants"][0]["preorder"]
        assert shown["units_left"] == 5

    await eventually(refunded_and_place_freed, timeout=20)
    again = await gateway.post(
        f"/v1/orders/{placed['id']}/cancel",
        json={"reason": "delivery_time"},
        headers={"Authorization": f"Bearer {placed['access_token']}"},
    )
    # Cancelling twice answers the same and refunds once.
    assert again.status_code == 200
    assert again.json() == response.json()
    assert (await order_as_customer(gateway, placed))["payments"]["refunded"] == 63000


async def test_waitlist_subscribers_are_told_once_when_the_variant_is_back_in_stock(
    gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    sku = new_sku("WAIT")
    await product(gateway, sku=sku, prices={"KRW": 25000})
    body = {"sku": sku, "email": f"waiter-{sku.lower()}@example.com", "locale": "en"}
    joined = await gateway.post("/v1/waitlist", json=body)
    assert joined.status_code == 201, joined.text
    again = await gateway.post("/v1/waitlist", json=body)
    assert again.status_code == 200
    assert again.json()["id"] == joined.json()["id"]
    assert (await gateway.post("/v1/waitlist", json={**body, "sku": "NOPE-404"})).status_code == 404

    await product_in_stock(gateway, sku=new_sku("OTHER"), units=1)  # an unrelated restock tells nobody
    restocked = await gateway.post(
        "/v1/admin/inventory/adjustments",
        headers=STAFF,
        json={"sku": sku, "location": "seoul-1", "delta": 3, "reason": "received"},
    )
    assert restocked.status_code == 201, restocked.text

    async def told_once() -> None:
        mails = emails_to(mail_dir, body["email"])
        assert len(mails) == 1
        assert "back in stock" in text_of(mails[0]).lower()

    await eventually(told_once, timeout=20)
    assert (await gateway.delete(f"/v1/waitlist/{joined.json()['id']}")).status_code == 204
    assert (await gateway.delete(f"/v1/waitlist/{joined.json()['id']}")).status_code == 404
