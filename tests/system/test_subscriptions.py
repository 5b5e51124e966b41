"""Subscriptions through the gateway of a running shop whose clock the tests move: staff define a plan, a
customer subscribes with a card, each cycle is charged off session on schedule into an order that is confirmed
like any other, a declined cycle is dunned until the customer changes the card, a paused subscription is not
charged, a cancelled one leaves the plan's segment, the segment opens a pre-order's early access, and a cycle
whose SKU is on pre-order holds a place in the drop, paid in full by the cycle's charge."""

from __future__ import annotations

import uuid
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
    product,
    product_in_stock,
    put_on_preorder,
    text_of,
)
from tests.system.test_customers import log_in, member

pytestmark = pytest.mark.system

ADDRESS = {
    "name": "Kim Minsu",
    "line1": "1 Teheran-ro",
    "city": "Seoul",
    "postal_code": "06236",
    "country": "KR",
}


def subscribe_body(plan_code: str, token: str) -> dict[str, Any]:
    return {
        "plan_code": plan_code,
        "currency": "KRW",
        "payment": {"token": token},
        "shipping_address": ADDRESS,
    }


class Subscriber:
    """A signed-in customer following their subscription; logs in again after the clock moves."""

    def __init__(self, gateway: httpx.AsyncClient, account: dict[str, Any], token: str) -> None:
        self.gateway, self.account, self.token = gateway, account, token

    async def log_in_again(self) -> None:
        self.token = await log_in(self.gateway, self.account["email"])

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    async def subscription(self, subscription_id: str) -> dict[str, Any]:
        response = await self.gateway.get(f"/v1/subscriptions/{subscription_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def when(self, subscription_id: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def reached() -> None:
            subscription = await self.subscription(subscription_id)
            seen.update(subscription)
            assert check(subscription), subscription

        await eventually(reached, timeout=60)
        return seen

    async def confirmed_order(self, order_id: str) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def confirmed() -> None:
            response = await self.gateway.get(f"/v1/orders/{order_id}", headers=self.headers)
            assert response.status_code == 200, response.text
            seen.update(response.json())
            assert seen["status"] == "confirmed", seen["status"]

        await eventually(confirmed, timeout=60)
        return seen


def charged(subscription: dict[str, Any]) -> list[dict[str, Any]]:
    return [cycle for cycle in subscription["cycles"] if cycle["status"] == "charged"]


def until(moment: str, *, plus: timedelta = timedelta(hours=1)) -> timedelta:
    """The clock offset that puts the shop at ``moment`` plus a little."""
    return datetime.fromisoformat(moment) - datetime.now(UTC) + plus


async def test_a_subscription_is_charged_each_cycle_dunned_paused_and_cancelled(
    gateway: httpx.AsyncClient, stack: Stack, clock: Callable[[timedelta], None]
) -> None:
    mail_dir: Path = stack.config.mail_dir
    sku = new_sku("SUBS")
    await product_in_stock(gateway, sku=sku, units=20, price=30000)
    code = f"coffee-{uuid.uuid4().hex[:8]}"
    plan = {
        "code": code,
        "name": "Coffee of the month",
        "interval": {"unit": "month", "count": 1},
        "prices": [{"currency": "KRW", "amount": 25000}],
        "sku": sku,
        "quantity": 1,
        "first_cycle_percent_off": 20,
    }

    # Staff define the plan; a plan with a trial and a discount both is refused naming the field.
    both = await gateway.post(
        "/v1/admin/subscription-plans", json={**plan, "code": f"{code}-x", "trial_days": 7}, headers=STAFF
    )
    assert both.status_code == 422, both.text
    assert [error["field"] for error in both.json()["errors"]] == ["first_cycle_percent_off"]
    assert (await gateway.post("/v1/admin/subscription-plans", json=plan)).status_code == 401
    unknown = await gateway.post(
        "/v1/admin/subscription-plans",
        json={**plan, "code": f"{code}-y", "sku": new_sku("NONE")},
        headers=STAFF,
    )
    assert unknown.status_code == 422, unknown.text
    assert [error["field"] for error in unknown.json()["errors"]] == ["sku"]

    async def plan_created() -> None:  # once orders has heard of the new SKU from catalog
        created = await gateway.post("/v1/admin/subscription-plans", json=plan, headers=STAFF)
        assert created.status_code == 201, created.text
        assert created.json()["segment"] == f"subscribers:{code}"

    await eventually(plan_created, timeout=30)
    listed = await gateway.get("/v1/admin/subscription-plans", headers=STAFF)
    assert code in [item["code"] for item in listed.json()["items"]]

    # A customer with an account subscribes; a guest cannot, nor can a card that fails verification.
    account, token = await member(gateway)
    customer = Subscriber(gateway, account, token)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    guest = await gateway.post("/v1/subscriptions", json=subscribe_body(code, "tok_visa"), headers=key)
    assert guest.status_code == 401
    declined = await gateway.post(
        "/v1/subscriptions",
        json=subscribe_body(code, "tok_card_declined"),
        headers={**customer.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert declined.status_code == 422, declined.text
    assert declined.json()["code"] == "payment_method_not_verified"
    usd = await gateway.post(
        "/v1/subscriptions",
        json={**subscribe_body(code, "tok_visa"), "currency": "USD"},
        headers={**customer.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert usd.status_code == 422, usd.text
    assert [error["field"] for error in usd.json()["errors"]] == ["currency"]
    subscribed = await gateway.post(
        "/v1/subscriptions", json=subscribe_body(code, "tok_visa"), headers={**customer.headers, **key}
    )
    assert subscribed.status_code == 201, subscribed.text
    subscription_id = subscribed.json()["id"]
    again = await gateway.post(
        "/v1/subscriptions", json=subscribe_body(code, "tok_visa"), headers={**customer.headers, **key}
    )
    assert again.json()["id"] == subscription_id
    me = await gateway.get("/v1/me", headers=customer.headers)
    assert f"subscribers:{code}" in me.json()["segments"]

    # Cycle 1 is charged at once, with the first-cycle discount, into an order that is confirmed.
    first = await customer.when(subscription_id, lambda s: len(charged(s)) == 1)
    [cycle_1] = charged(first)
    assert cycle_1["amount"] == 20000
    order_1 = await customer.confirmed_order(cycle_1["order_id"])
    assert order_1["totals"]["total"] == 20000
    assert order_1["payments"]["captured"] == 20000

    # The cycle's order is cancelled like any order: what the cycle charged is refunded.
    cancelled_order = await gateway.post(
        f"/v1/orders/{cycle_1['order_id']}/cancel", json={"reason": "changed_mind"}, headers=customer.headers
    )
    assert cancelled_order.status_code == 200, cancelled_order.text

    async def refunded() -> None:
        response = await gateway.get(f"/v1/orders/{cycle_1['order_id']}", headers=customer.headers)
        view = response.json()
        assert (view["status"], view["payments"]["refunded"]) == ("cancelled", 20000), view["payments"]

    await eventually(refunded, timeout=60)

    # Three days before the next charge the customer is reminded; then cycle 2 is charged at the full price.
    clock(until(first["next_charge_at"], plus=-timedelta(days=2)))
    await customer.log_in_again()

    async def reminded() -> None:
        subjects = [str(mail["Subject"]) for mail in emails_to(mail_dir, account["email"])]
        assert any("will be charged on" in subject for subject in subjects), subjects

    await eventually(reminded, timeout=60)
    clock(until(first["next_charge_at"]))
    await customer.log_in_again()
    second = await customer.when(subscription_id, lambda s: len(charged(s)) == 2)
    cycle_2 = charged(second)[1]
    assert cycle_2["amount"] == 25000
    await customer.confirmed_order(cycle_2["order_id"])

    # The customer changes to a card that verifies but is declined off session: cycle 3 goes into dunning.
    changed = await gateway.put(
        f"/v1/subscriptions/{subscription_id}/payment-method",
        json={"token": "tok_fails_later"},
        headers=customer.headers,
    )
    assert changed.status_code == 200, changed.text
    clock(until(second["next_charge_at"]))
    await customer.log_in_again()
    await customer.when(subscription_id, lambda s: s["status"] == "past_due")

    def failures() -> list[str]:
        mails = emails_to(mail_dir, account["email"])
        return [text_of(mail) for mail in mails if "We could not charge your card" in str(mail["Subject"])]

    async def told_once() -> None:
        texts = failures()
        assert len(texts) == 1, texts
        text = texts[0]
        assert "your card was declined" in text
        assert f"/subscriptions/{subscription_id}/payment" in text
        assert "we will try again on" in text

    await eventually(told_once, timeout=60)

    # A day later the charge is tried again and declined again; the customer is told again.
    offset = until(second["next_charge_at"], plus=timedelta(hours=26))
    clock(offset)
    await customer.log_in_again()

    async def told_twice() -> None:
        assert len(failures()) == 2

    await eventually(told_twice, timeout=60)

    # A new card that does not verify is refused; a good one is charged at once.
    bad = await gateway.put(
        f"/v1/subscriptions/{subscription_id}/payment-method",
        json={"token": "tok_card_declined"},
        headers=customer.headers,
    )
    assert bad.status_code == 422, bad.text
    good = await gateway.put(
        f"/v1/subscriptions/{subscription_id}/payment-method",
        json={"token": "tok_visa"},
        headers=customer.headers,
    )
    assert good.status_code == 200, good.text
    third = await customer.when(subscription_id, lambda s: len(charged(s)) == 3 and s["status"] == "active")
    cycle_3 = charged(third)[2]
    assert cycle_3["attempts"] == 3
    await customer.confirmed_order(cycle_3["order_id"])

    # While subscribed the customer is in the plan's segment: a pre-order's early access opens for it.
    await early_access_for_the_segment(gateway, stack, customer, code, shop_now=datetime.now(UTC) + offset)

    # Paused: the cycle that falls due is not charged; resumed, the next charge is the one after it.
    paused = await gateway.post(f"/v1/subscriptions/{subscription_id}/pause", headers=customer.headers)
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    again_paused = await gateway.post(f"/v1/subscriptions/{subscription_id}/pause", headers=customer.headers)
    assert again_paused.status_code == 409
    by_staff = await gateway.get(
        "/v1/admin/subscriptions", params={"status": "paused", "plan_code": code}, headers=STAFF
    )
    assert [item["id"] for item in by_staff.json()["items"]] == [subscription_id]
    clock(until(third["next_charge_at"], plus=timedelta(days=2)))
    await customer.log_in_again()
    resumed = await gateway.post(f"/v1/subscriptions/{subscription_id}/resume", headers=customer.headers)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["next_cycle"] == 5
    assert [cycle["cycle"] for cycle in resumed.json()["cycles"]] == [1, 2, 3]

    # Cancelled at once: no more charges, and the customer leaves the plan's segment.
    cancelled = await gateway.post(
        f"/v1/subscriptions/{subscription_id}/cancel", json={"at": "now"}, headers=customer.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["next_charge_at"] is None
    me = await gateway.get("/v1/me", headers=customer.headers)
    assert f"subscribers:{code}" not in me.json()["segments"]
    assert len(charged(await customer.subscription(subscription_id))) == 3

    async def told_of_pause_and_cancellation() -> None:
        subjects = [str(mail["Subject"]) for mail in emails_to(mail_dir, account["email"])]
        assert any("subscription is paused" in subject for subject in subjects), subjects
        assert any("subscription is cancelled" in subject for subject in subjects), subjects
        assert sum("subscription is paid" in subject for subject in subjects) == 3, subjects

    await eventually(told_of_pause_and_cancellation, timeout=60)

    # The orders worker counts subscriptions from the database and the declined cycle charges.
    metrics_url = f"http://127.0.0.1:{stack.config.service_port('orders') + 1000}/metrics"

    async def counted() -> None:
        async with httpx.AsyncClient() as client:
            samples = metric_samples((await client.get(metrics_url)).text)
        assert samples.get('shop_subscriptions{status="cancelled"}', 0) >= 1, samples
        declined = 'shop_subscription_cycle_charges_failed_total{currency="KRW",reason="card_declined"}'
        assert samples.get(declined, 0) >= 2, samples

    await eventually(counted, timeout=90)


async def test_a_cycle_on_preorder_holds_a_place_in_the_drop_paid_in_full_and_ships_when_allocated(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    sku = new_sku("SUBSDROP")
    await product(gateway, sku=sku, prices={"KRW": 20000})
    # A deposit the customer would not get back: the cycle's charge pays the place in full instead.
    ships = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    await put_on_preorder(
        stack,
        gateway,
        sku,
        {"payment_mode": "deposit", "deposit_percent": 30, "deposit_refundable": False, "cap": 100,
         "expected_ship_date": ships},
    )  # fmt: skip
    code = f"drop-{uuid.uuid4().hex[:8]}"
    plan = {"code": code, "name": "The monthly drop", "prices": [{"currency": "KRW", "amount": 30000}],
            "sku": sku, "quantity": 2}  # fmt: skip
    created = await gateway.post("/v1/admin/subscription-plans", json=plan, headers=STAFF)
    assert created.status_code == 201, created.text
    account, token = await member(gateway)
    customer = Subscriber(gateway, account, token)
    subscribed = await gateway.post(
        "/v1/subscriptions",
        json=subscribe_body(code, "tok_visa"),
        headers={**customer.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert subscribed.status_code == 201, subscribed.text

    # The cycle is charged and its order holds a place in the queue, with nothing left to pay.
    [cycle] = charged(await customer.when(subscribed.json()["id"], lambda s: len(charged(s)) == 1))
    order = await customer.confirmed_order(cycle["order_id"])
    [line] = order["lines"]
    assert (line["kind"], line["paid_now"], line["balance"]) == ("preorder", 30000, 0)
    assert line["queue_position"] is not None
    assert order["payments"]["captured"] == 30000
    assert [group for group in order["shipment_groups"] if group["kind"] == "preorder"] == []

    # Staff receive the drop: the place is allocated and goes to the warehouse without a second charge.
    await expect_and_receive(gateway, sku, expected=2, received=2)
    seen: dict[str, Any] = {}

    async def released() -> None:
        response = await gateway.get(f"/v1/orders/{cycle['order_id']}", headers=customer.headers)
        assert response.status_code == 200, response.text
        seen.update(response.json())
        groups = [(group["status"], group["balance"]) for group in seen["shipment_groups"]]
        assert groups == [("pick_requested", 0)], groups

    await eventually(released, timeout=60)
    assert [(p["status"], p["amount"]) for p in seen["payments"]["items"]] == [("succeeded", 30000)]
    assert seen["payments"]["captured"] == 30000


def metric_samples(text: str) -> dict[str, float]:
    """Prometheus text exposition as {'name{labels}': value}."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def early_access_for_the_segment(
    gateway: httpx.AsyncClient, stack: Stack, customer: Subscriber, plan_code: str, *, shop_now: datetime
) -> None:
    """A pre-order whose early access is for the plan's subscribers: the subscriber orders, another gets 409."""
    sku = new_sku("SUBSVIP")
    await product(gateway, sku=sku, prices={"KRW": 20000})
    now = shop_now
    public = now + timedelta(days=3)
    await put_on_preorder(
        stack,
        gateway,
        sku,
        {
            "payment_mode": "pay_now",
            "cap": 100,
            "expected_ship_date": (public + timedelta(days=30)).date().isoformat(),
            "starts_at": public.isoformat(),
            "ends_at": (public + timedelta(days=7)).isoformat(),
            "early_access_segment": f"subscribers:{plan_code}",
            "early_access_starts_at": (now - timedelta(hours=1)).isoformat(),
        },
    )
    _, other_token = await member(gateway)
    placed = await gateway.post(
        "/v1/orders", json=checkout(sku), headers={**customer.headers, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert placed.status_code == 202, placed.text
    refused = await gateway.post(
        "/v1/orders",
        json=checkout(sku),
        headers={**bearer(other_token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "preorder_not_open"
