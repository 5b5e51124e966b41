"""Pre-order balances charged by the clock, the reminder before a deferred charge, and a customer replacing
the card of an order in dunning: through the gateway of a running shop whose clock the tests move."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import bearer, checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    STAFF,
    emails_to,
    expect_and_receive,
    order_as_customer,
    place_order,
    product,
    put_on_preorder,
    shop_ops,
    text_of,
    wait_for_group,
    wait_for_status,
)

pytestmark = pytest.mark.system


def policy(payment_mode: str, **fields: Any) -> dict[str, Any]:
    return {"payment_mode": payment_mode, "cap": 100, "expected_ship_date": "2027-01-20", **fields}


def audit(stack: Stack, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``python -m shop_ops audit`` against the running shop's databases."""
    return shop_ops(stack, "audit", *arguments)


def mails_with(mail_dir: Path, address: str, words: str) -> list[str]:
    return [text for text in map(text_of, emails_to(mail_dir, address)) if words in text]


async def test_a_balance_due_after_hours_is_charged_on_time_and_ships_when_the_goods_arrive(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("AFTER")
    await product(gateway, sku=sku, prices={"KRW": 50000})
    await put_on_preorder(
        stack,
        gateway,
        sku,
        policy("deposit", deposit_percent=20, balance_due="after", balance_due_after_hours=48),
    )
    body = checkout(sku, quantity=1, locale="en")
    placed = (await place_order(gateway, body)).json()
    order = await wait_for_status(gateway, placed, "confirmed")
    [line] = order["lines"]
    [group] = [g for g in order["shipment_groups"] if g["kind"] == "preorder"]
    charge_at = datetime.fromisoformat(group["balance_due_at"])
    ordered_at = datetime.fromisoformat(order["created_at"])
    assert charge_at == ordered_at + timedelta(hours=48)
    assert datetime.fromisoformat(line["balance_charged_at"]) == charge_at
    assert (group["status"], group["balance"], group["location"]) == ("balance_scheduled", 40000, "")
    assert order["payments"]["captured"] == 10000 + 3000

    clock(timedelta(hours=25))  # 24 h before the charge: the reminder, not the charge

    async def reminded() -> None:
        view = await order_as_customer(gateway, placed)
        assert "balance_reminder_sent" in [entry["event"] for entry in view["timeline"]], view
        texts = mails_with(mail_dir, body["email"], "reminder")
        assert len(texts) == 1, texts
        [text] = texts
        assert "₩40,000" in text, text
        assert f"/orders/{placed['id']}/payment" in text, text

    await eventually(reminded, timeout=30)
    assert (await order_as_customer(gateway, placed))["payments"]["captured"] == 13000

    clock(timedelta(hours=49))  # the balance is due: charged though nothing arrived yet
    order = await wait_for_group(gateway, placed, "paid_awaiting_stock", timeout=30)
    assert order["payments"]["captured"] == 53000
    assert order["status"] == "confirmed"
    # The audit sees a balance captured before the goods arrived as waiting, not as a broken invariant.
    checked = audit(stack, "--fulfillment-grace", "1s", "--waiting-after", "1s")
    about_this_order = [line for line in checked.stdout.splitlines() if placed["id"] in line]
    assert about_this_order, checked.stdout
    assert all(line.startswith("WAITING") for line in about_this_order), about_this_order

    await expect_and_receive(gateway, sku, expected=1, received=1)
    order = await wait_for_group(gateway, placed, "pick_requested")
    assert order["payments"]["captured"] == 53000  # released without charging again
    balance_payments = [p for p in order["payments"]["items"] if p["balance_group"] is not None]
    assert [p["status"] for p in balance_payments] == ["succeeded"], order["payments"]
    events = [entry["event"] for entry in order["timeline"]]
    assert (
        events.index("balance_reminder_sent")
        < events.index("balance_charged")
        < events.index("preorder_allocated")
        < events.index("pick_requested")
    )


async def test_a_balance_due_within_a_day_is_reminded_at_once_and_cancelling_after_it_refunds_it(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("AT")
    await product(gateway, sku=sku, prices={"KRW": 60000})
    due = datetime.now(UTC) + timedelta(hours=3)
    await put_on_preorder(
        stack,
        gateway,
        sku,
        policy(
            "deposit",
            deposit_percent=50,
            deposit_refundable=False,
            balance_due="at",
            balance_due_at=due.isoformat(),
        ),
    )
    body = checkout(sku, quantity=1, locale="ko")
    placed = (await place_order(gateway, body)).json()
    await wait_for_status(gateway, placed, "confirmed")

    async def reminded_in_korean() -> None:
        texts = mails_with(mail_dir, body["email"], "결제될 예정")
        assert len(texts) == 1, texts
        [text] = texts
        assert "30,000원" in text, text

    await eventually(reminded_in_korean, timeout=30)  # less than 24 h left: the reminder goes now

    clock(timedelta(hours=4))
    order = await wait_for_group(gateway, placed, "paid_awaiting_stock", timeout=30)
    assert order["payments"]["captured"] == 63000

    response = await gateway.post(
        f"/v1/orders/{placed['id']}/cancel",
        json={"reason": "delivery_time"},
        headers=bearer(placed["access_token"]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["refund"] == 30000 + 3000  # the balance and shipping; the deposit is kept

    async def refunded() -> None:
        view = await order_as_customer(gateway, placed)
        assert view["status"] == "cancelled"
        assert view["payments"]["refunded"] == 33000

    await eventually(refunded, timeout=20)
    closed = await gateway.put(
        f"/v1/orders/{placed['id']}/payment-method",
        json={"token": "tok_visa"},
        headers=bearer(placed["access_token"]),
    )
    assert closed.status_code == 409, closed.text
    assert closed.json()["code"] == "order_closed"


async def test_a_failed_scheduled_balance_enters_dunning(
    gateway: httpx.AsyncClient, stack: Stack, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("ATFAIL")
    await product(gateway, sku=sku, prices={"KRW": 40000})
    await put_on_preorder(
        stack, gateway, sku, policy("pay_later", balance_due="after", balance_due_after_hours=1)
    )
    placed = (await place_order(gateway, checkout(sku, token="tok_fails_later"))).json()
    await wait_for_status(gateway, placed, "confirmed")
    clock(timedelta(hours=2))
    order = await wait_for_group(gateway, placed, "balance_failed", timeout=30)
    [group] = [g for g in order["shipment_groups"] if g["kind"] == "preorder"]
    assert group["balance"] == 40000 + 3000  # pay later: shipping goes with the balance

    fixed = await gateway.put(
        f"/v1/orders/{placed['id']}/payment-method",
        json={"token": "tok_visa"},
        headers=bearer(placed["access_token"]),
    )
    assert fixed.status_code == 200, fixed.text
    order = await wait_for_group(gateway, placed, "paid_awaiting_stock", timeout=30)
    assert order["payments"]["captured"] == 43000


async def test_a_customer_replaces_the_card_of_an_order_in_dunning_and_the_balance_is_charged_at_once(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("NEWCARD")
    await product(gateway, sku=sku, prices={"KRW": 50000})
    await put_on_preorder(stack, gateway, sku, policy("deposit", deposit_percent=20))
    body = checkout(sku, token="tok_fails_later", locale="en")
    placed = (await place_order(gateway, body)).json()
    await wait_for_status(gateway, placed, "confirmed")
    await expect_and_receive(gateway, sku, expected=1, received=1)
    await wait_for_group(gateway, placed, "balance_scheduled")
    clock(timedelta(hours=25))
    await wait_for_group(gateway, placed, "balance_failed", timeout=30)

    async def dunning_email_links_the_update_page() -> None:
        texts = mails_with(mail_dir, body["email"], "did not go through")
        assert any(f"/orders/{placed['id']}/payment" in text for text in texts), texts

    await eventually(dunning_email_links_the_update_page, timeout=20)

    path = f"/v1/orders/{placed['id']}/payment-method"
    missing = await gateway.put(path, json={}, headers=bearer(placed["access_token"]))
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"].endswith("token")
    stranger = await gateway.put(path, json={"token": "tok_visa"}, headers={"Authorization": "Bearer nope"})
    assert stranger.status_code == 404
    anonymous = await gateway.put(path, json={"token": "tok_visa"})
    assert anonymous.status_code == 401
    declined = await gateway.put(
        path, json={"token": "tok_insufficient_funds"}, headers=bearer(placed["access_token"])
    )
    assert declined.status_code == 422, declined.text
    assert declined.headers["content-type"].startswith("application/problem+json")

    replaced = await gateway.put(
        path, json={"token": "tok_mastercard"}, headers=bearer(placed["access_token"])
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["last4"]
    order = await wait_for_group(gateway, placed, "pick_requested", timeout=20)  # no 24 h wait
    assert order["payments"]["captured"] == 53000
    events = [entry["event"] for entry in order["timeline"]]
    assert events.index("payment_method_updated") < events.index("balance_charged")


async def test_a_balance_due_when_ready_is_reminded_a_day_before_the_expected_day_then_charged_on_arrival(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("READY")
    await product(gateway, sku=sku, prices={"KRW": 50000})
    expected = datetime.now(UTC).date() + timedelta(days=5)
    await put_on_preorder(
        stack,
        gateway,
        sku,
        {**policy("deposit", deposit_percent=20), "expected_ship_date": expected.isoformat()},
    )
    body = checkout(sku, locale="en")
    placed = (await place_order(gateway, body)).json()
    order = await wait_for_status(gateway, placed, "confirmed")
    assert order["lines"][0]["balance_charged_at"] == "on_ready"
    expected_at = datetime.combine(expected, datetime.min.time(), tzinfo=UTC)

    clock(expected_at - datetime.now(UTC) - timedelta(hours=23))

    async def reminded() -> None:
        texts = mails_with(mail_dir, body["email"], "expected to be ready")
        assert len(texts) == 1, texts
        assert "₩40,000" in texts[0]

    await eventually(reminded, timeout=30)

    clock(expected_at - datetime.now(UTC) + timedelta(hours=2))  # a full day after the reminder
    await expect_and_receive(gateway, sku, expected=1, received=1)
    order = await wait_for_group(gateway, placed, "pick_requested", timeout=30)  # charged at once
    assert order["payments"]["captured"] == 53000
    events = [entry["event"] for entry in order["timeline"]]
    assert "balance_scheduled" not in events
    assert (
        events.index("balance_reminder_sent")
        < events.index("preorder_allocated")
        < events.index("balance_charged")
    )


async def test_the_reminder_before_a_balance_due_when_ready_moves_with_the_expected_date(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("MOVED")
    await product(gateway, sku=sku, prices={"KRW": 50000})
    promised = datetime.now(UTC).date() + timedelta(days=20)
    await put_on_preorder(
        stack,
        gateway,
        sku,
        {**policy("deposit", deposit_percent=20), "expected_ship_date": promised.isoformat()},
    )
    body = checkout(sku, locale="en")
    placed = (await place_order(gateway, body)).json()
    await wait_for_status(gateway, placed, "confirmed")
    # The supplier ships early: an inbound expected in two days moves the line's date forward.
    sooner = datetime.now(UTC).date() + timedelta(days=2)
    inbound = await gateway.post(
        "/v1/admin/inbounds",
        headers=STAFF,
        json={
            "sku": sku,
            "location": "seoul-1",
            "quantity": 1,
            "expected_at": f"{sooner.isoformat()}T00:00:00Z",
        },
    )
    assert inbound.status_code == 201, inbound.text

    async def date_moved() -> None:
        line = (await order_as_customer(gateway, placed))["lines"][0]
        assert line["expected_ship_date"] == sooner.isoformat(), line

    await eventually(date_moved, timeout=30)
    # A day before the new date, not the promised one twenty days out, the customer hears of the charge.
    clock(datetime.combine(sooner, datetime.min.time(), tzinfo=UTC) - datetime.now(UTC) - timedelta(hours=23))

    async def reminded() -> None:
        texts = mails_with(mail_dir, body["email"], "expected to be ready")
        assert len(texts) == 1, texts

    await eventually(reminded, timeout=30)
