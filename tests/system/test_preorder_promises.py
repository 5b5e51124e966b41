"""Pre-order promises through the gateway of a running shop: changed inbounds move expected dates, customers
consent or cancel from an email's link, the promise check cancels, windows that open later are announced on
time, and staff read pre-order metrics."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import checkout, new_sku
from tests.support.messages import eventually
from tests.system.conftest import WAREHOUSE_KEY
from tests.system.shop import (
    STAFF,
    emails_to,
    order_as_customer,
    place_order,
    product,
    put_on_preorder,
    text_of,
    wait_for_status,
)

pytestmark = pytest.mark.system

DECISION_LINK = re.compile(r"/orders/([0-9a-f-]+)/preorder-decision\?token=(\S+)")


def _day(offset_days: int) -> date:
    return (datetime.now(UTC) + timedelta(days=offset_days)).date()


def _at(offset_days: int) -> str:
    return datetime.combine(_day(offset_days), datetime.min.time(), tzinfo=UTC).isoformat()


async def _line(gateway: httpx.AsyncClient, placed: dict[str, Any]) -> dict[str, Any]:
    [line] = (await order_as_customer(gateway, placed))["lines"]
    return line  # type: ignore[no-any-return]


async def _decision_token(mail_dir: Path, email: str, *, consent: bool) -> str:
    """The token of the last date-change email's link; ``consent``: the email asks for the customer's answer."""
    found: list[str] = []

    async def emailed() -> None:
        texts = [text_of(message) for message in emails_to(mail_dir, email)]
        asking = [
            text
            for text in texts
            if DECISION_LINK.search(text)
            and (not consent or "need your answer" in text or "답변이 필요" in text)
        ]
        assert asking, texts
        match = DECISION_LINK.search(asking[-1])
        assert match is not None
        found.append(match.group(2))

    await eventually(emailed, timeout=20)
    return found[-1]


async def test_a_later_inbound_asks_for_consent_and_the_promise_check_cancels_who_did_not_answer(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("PROMISE")
    await product(gateway, sku=sku, prices={"KRW": 50000})
    # No ship date in the policy: the shop promises the order date + 30 days. Deposits are not refundable,
    # except when the shop breaks its promise or the customer cancels over a changed date.
    await put_on_preorder(
        stack,
        gateway,
        sku,
        {"payment_mode": "deposit", "deposit_percent": 30, "cap": 10, "deposit_refundable": False},
    )
    silent, accepting, cancelling = (
        checkout(sku, locale="ko"),
        checkout(sku, locale="en"),
        checkout(sku, locale="en"),
    )
    placed = [(await place_order(gateway, body)).json() for body in (silent, accepting, cancelling)]
    for each in placed:
        order = await wait_for_status(gateway, each, "confirmed")
        assert order["charged_at_checkout"] == 15000 + 3000
    promised = _day(30)
    line = await _line(gateway, placed[0])
    assert (line["promised_ship_date"], line["expected_ship_date"], line["consent_awaited"]) == (
        promised.isoformat(),
        None,
        False,
    )

    # Stock expected in 10 days: every waiting pre-order gets a date, within the promise (no consent needed).
    inbound = await gateway.post(
        "/v1/admin/inbounds",
        headers=STAFF,
        json={"sku": sku, "location": "seoul-1", "quantity": 3, "expected_at": _at(10)},
    )
    assert inbound.status_code == 201, inbound.text
    inbound_id = inbound.json()["id"]

    async def dated_within_promise() -> None:
        line = await _line(gateway, placed[0])
        assert (line["expected_ship_date"], line["consent_awaited"]) == (_day(10).isoformat(), False)

    await eventually(dated_within_promise, timeout=20)

    # The supplier is late: 45 days out is past the promise, so each customer is asked.
    late = await gateway.patch(
        f"/v1/admin/inbounds/{inbound_id}", headers=STAFF, json={"expected_at": _at(45)}
    )
    assert late.status_code == 200, late.text
    assert late.json()["preorders_with_new_ship_date"] == 3

    async def consent_awaited() -> None:
        for each in placed:
            line = await _line(gateway, each)
            assert (line["expected_ship_date"], line["consent_awaited"]) == (_day(45).isoformat(), True)

    await eventually(consent_awaited, timeout=20)
    assert (await order_as_customer(gateway, placed[0]))["preorder_consent_awaited"] is True
    # A change that moves no date tells nobody.
    more = await gateway.patch(f"/v1/admin/inbounds/{inbound_id}", headers=STAFF, json={"quantity": 5})
    assert more.status_code == 200, more.text
    assert more.json()["preorders_with_new_ship_date"] == 0

    korean = await _decision_token(mail_dir, silent["email"], consent=True)
    assert korean
    token = await _decision_token(mail_dir, accepting["email"], consent=True)
    decide = f"/v1/orders/{placed[1]['id']}/preorder-decision"
    wrong = await gateway.post(decide, json={"decision": "accept"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 404
    other_orders_token = await gateway.post(
        f"/v1/orders/{placed[2]['id']}/preorder-decision",
        json={"decision": "cancel"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert other_orders_token.status_code == 404  # the token is scoped to its own order
    accepted = await gateway.post(
        decide, json={"decision": "accept"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["promised_ship_dates"] == {sku: _day(45).isoformat()}
    line = await _line(gateway, placed[1])
    assert (line["promised_ship_date"], line["consent_awaited"]) == (_day(45).isoformat(), False)

    cancel_token = await _decision_token(mail_dir, cancelling["email"], consent=True)
    cancelled = await gateway.post(
        f"/v1/orders/{placed[2]['id']}/preorder-decision",
        json={"decision": "cancel"},
        headers={"Authorization": f"Bearer {cancel_token}"},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["refund"] == 18000  # the non-refundable deposit too: the date changed
    await wait_for_status(gateway, placed[2], "cancelled")

    # The promised day passes: the silent customer's order is cancelled with everything refunded; the one who
    # accepted keeps waiting under the new promise.
    clock(timedelta(days=32))

    async def silent_refunded() -> None:
        order = await order_as_customer(gateway, placed[0])
        assert (order["status"], order["status_reason"]) == ("cancelled", "preorder_promise_broken")
        assert order["payments"]["refunded"] == 18000

    await eventually(silent_refunded, timeout=30)
    assert (await order_as_customer(gateway, placed[1]))["status"] == "confirmed"

    async def told_of_cancellation() -> None:
        texts = [text_of(message) for message in emails_to(mail_dir, silent["email"])]
        assert any("약속드린 날짜까지" in text and "18,000원" in text for text in texts), texts

    await eventually(told_of_cancellation, timeout=20)


async def test_a_short_receipt_moves_the_dates_of_those_left_waiting(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    sku = new_sku("SHORT")
    await product(gateway, sku=sku, prices={"KRW": 20000})
    await put_on_preorder(
        stack, gateway, sku, {"payment_mode": "pay_now", "cap": 10, "expected_ship_date": "2027-03-01"}
    )
    first, second = [(await place_order(gateway, checkout(sku))).json() for _ in range(2)]
    for each in (first, second):
        await wait_for_status(gateway, each, "confirmed")
    inbound = await gateway.post(
        "/v1/admin/inbounds",
        headers=STAFF,
        json={"sku": sku, "location": "seoul-1", "quantity": 2, "expected_at": "2027-01-10T00:00:00Z"},
    )
    assert inbound.status_code == 201, inbound.text

    async def both_dated() -> None:
        for each in (first, second):
            assert (await _line(gateway, each))["expected_ship_date"] == "2027-01-10"

    await eventually(both_dated, timeout=20)
    receipt = await gateway.post(
        f"/v1/admin/inbounds/{inbound.json()['id']}/receive", headers=STAFF, json={"quantity": 1}
    )
    assert receipt.status_code == 200, receipt.text

    async def the_second_falls_back_to_the_policy_date() -> None:
        order = await order_as_customer(gateway, second)
        assert order["lines"][0]["expected_ship_date"] == "2027-03-01"
        assert "preorder_date_changed" in [entry["event"] for entry in order["timeline"]]

    await eventually(the_second_falls_back_to_the_policy_date, timeout=20)


async def test_a_window_that_opens_later_is_announced_when_it_opens_and_moving_it_reschedules(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("LATER")
    await product(gateway, sku=sku, prices={"KRW": 30000})
    subscriber = f"later-{sku.lower()}@example.com"
    joined = await gateway.post("/v1/waitlist", json={"sku": sku, "email": subscriber, "locale": "en"})
    assert joined.status_code == 201, joined.text

    def window(starts_in_days: int) -> dict[str, Any]:
        starts = datetime.now(UTC) + timedelta(days=starts_in_days)
        return {"payment_mode": "pay_now", "cap": 5, "starts_at": starts.isoformat()}

    await put_on_preorder(stack, gateway, sku, window(2))
    moved = await gateway.put(f"/v1/admin/variants/{sku}/preorder-policy", headers=STAFF, json=window(3))
    assert moved.status_code == 200, moved.text

    async def waitlist_entry() -> dict[str, Any]:
        listed = await gateway.get("/v1/admin/waitlist", params={"sku": sku}, headers=STAFF)
        assert listed.status_code == 200, listed.text
        [entry] = listed.json()["items"]
        return entry  # type: ignore[no-any-return]

    assert (await waitlist_entry())["notified_at"]["preorder_open"] is None  # not when staff saved it

    clock(timedelta(days=2, hours=1))  # the first window's start: it was moved, so nobody is told
    early = await place_order(gateway, checkout(sku))
    assert early.status_code == 409, early.text
    assert (early.json()["code"], early.json()["errors"][0]["field"]) == ("preorder_not_open", "lines[0].sku")
    assert (await waitlist_entry())["notified_at"]["preorder_open"] is None

    clock(timedelta(days=3, hours=1))

    async def told_once() -> None:
        mails = emails_to(mail_dir, subscriber)
        assert len(mails) == 1
        assert "open for pre-order" in text_of(mails[0])
        assert (await waitlist_entry())["notified_at"]["preorder_open"] is not None

    await eventually(told_once, timeout=30)


async def test_staff_read_preorder_metrics_of_real_orders(gateway: httpx.AsyncClient, stack: Stack) -> None:
    sku_m, sku_l = new_sku("METRIC-M"), new_sku("METRIC-L")
    created = await gateway.post(
        "/v1/admin/products",
        headers=STAFF,
        json={
            "title": "Metrics hoodie",
            "variants": [
                {"sku": sku_m, "options": {"size": "M"}, "prices": [{"currency": "KRW", "amount": 40000}]},
                {"sku": sku_l, "options": {"size": "L"}, "prices": [{"currency": "KRW", "amount": 40000}]},
            ],
        },
    )
    assert created.status_code == 201, created.text
    product_id = created.json()["id"]
    await put_on_preorder(stack, gateway, sku_m, {"payment_mode": "pay_now", "cap": 3})
    await put_on_preorder(stack, gateway, sku_l, {"payment_mode": "pay_now", "cap": 10})
    for sku, views in ((sku_m, 4), (sku_l, 2)):
        for _ in range(views):
            seen = await gateway.post(f"/v1/products/{product_id}/views", json={"sku": sku})
            assert seen.status_code == 202, seen.text
    wrong = await gateway.post(f"/v1/products/{product_id}/views", json={"sku": "NOT-HERE"})
    assert wrong.status_code == 404

    orders = [
        (await place_order(gateway, checkout(sku, quantity=quantity))).json()
        for sku, quantity in ((sku_m, 1), (sku_m, 2), (sku_l, 1), (sku_l, 1))
    ]
    for each in orders:
        await wait_for_status(gateway, each, "confirmed")
    cancelled = await gateway.post(
        f"/v1/orders/{orders[3]['id']}/cancel",
        json={"reason": "changed_mind"},
        headers={"Authorization": f"Bearer {orders[3]['access_token']}"},
    )
    assert cancelled.status_code == 200, cancelled.text

    async def metrics() -> dict[str, Any]:
        response = await gateway.get("/v1/admin/preorder-metrics", params={"sku": sku_l}, headers=STAFF)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def l_counted() -> None:
        [campaign] = (await metrics())["campaigns"]
        assert campaign["campaign"] == f"{sku_l}@always"
        assert (campaign["orders"], campaign["units"], campaign["units_cancelled"]) == (2, 1, 1)
        assert campaign["revenue"] == {"KRW": 40000}
        assert (campaign["views"], campaign["conversion"]) == (2, 1.0)
        assert (campaign["cancellation_rate"], campaign["refund_rate"]) == (0.5, 0.5)
        assert campaign["refunded"] == {"KRW": 43000}
        assert campaign["demand_by_option"] == {"size": {"L": 1}}
        assert campaign["sell_out_seconds"] is None  # 1 of 10: not sold out

    await eventually(l_counted, timeout=20)

    response = await gateway.get(
        "/v1/admin/preorder-metrics", params={"campaign": f"{sku_m}@always"}, headers=STAFF
    )
    assert response.status_code == 200, response.text
    body = response.json()
    [campaign] = body["campaigns"]
    assert (campaign["units"], campaign["revenue"], campaign["views"], campaign["conversion"]) == (
        3,
        {"KRW": 120000},
        4,
        0.5,
    )
    assert campaign["sold_out_at"] is not None
    assert campaign["sell_out_seconds"] >= 0
    assert campaign["demand_by_option"] == {"size": {"M": 3}}
    assert 0 < body["preorder_share"] <= 1
    assert body["preorder_orders"] >= 2

    # Support reading is checked in tests/unit/gateway (the shared stack runs without a support key).
    assert (
        await gateway.get("/v1/admin/preorder-metrics", headers={"X-Api-Key": WAREHOUSE_KEY})
    ).status_code == 403
    assert (await gateway.get("/v1/admin/preorder-metrics")).status_code == 401
