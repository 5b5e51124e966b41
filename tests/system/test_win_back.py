"""Keeping the sale after a cancellation, through the gateway of a running shop: the feedback link of the
cancellation email, offers per reason whose codes only their customer can use, saved and lost cancellations in
the staff figures, marketing consent from an account reaching the offer email, and a buyer told when a place given
back ahead of them brings their pre-order's date forward."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import Storefront, bearer, checkout, new_email, new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    STAFF,
    access,
    emails_to,
    order_as_customer,
    place_order,
    product,
    product_in_stock,
    put_on_preorder,
    text_of,
    wait_for_status,
)

pytestmark = pytest.mark.system

FEEDBACK_LINK = re.compile(r"/feedback\?order=([0-9a-f-]+)&reason=(\w+)&token=(\S+)")
PASSWORD = "correct horse battery"


async def _cancelled(gateway: httpx.AsyncClient, body: dict[str, Any], reason: str) -> dict[str, Any]:
    """An order placed with ``body``, confirmed, then cancelled by its customer for ``reason``."""
    placed = (await place_order(gateway, body)).json()
    await wait_for_status(gateway, placed, "confirmed")
    response = await Storefront(gateway).cancel(access(placed), reason)
    assert response.status_code == 200, response.text
    return placed  # type: ignore[no-any-return]


async def _mail(mail_dir: Path, address: str, template: str, *, containing: str = "") -> str:
    """The text of the one email of ``template`` sent to ``address`` (that holds ``containing``)."""
    found: list[str] = []

    async def sent() -> None:
        texts = [
            text_of(mail)
            for mail in emails_to(mail_dir, address)
            if mail["X-Shop-Template"] == template and containing in text_of(mail)
        ]
        assert len(texts) == 1, texts
        found[:] = texts

    await eventually(sent, timeout=20)
    return found[0]


async def _code(gateway: httpx.AsyncClient, placed: dict[str, Any]) -> dict[str, Any]:
    view = await gateway.get(
        f"/v1/orders/{placed['id']}/cancellation", headers=bearer(placed["access_token"])
    )
    assert view.status_code == 200, view.text
    code: dict[str, Any] = view.json()["discount_code"]
    return code


def _fields(response: httpx.Response) -> list[str]:
    return [error["field"] for error in response.json().get("errors", [])]


async def test_a_customer_tells_why_they_cancelled_through_the_emails_link_once(
    gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=1)
    sku = new_sku("FEED")
    await product_in_stock(gateway, sku=sku, units=5, price=30000)
    body = checkout(sku, locale="en")
    placed = await _cancelled(gateway, body, "delivery_time")
    other_body = checkout(sku, locale="ko")
    await _cancelled(gateway, other_body, "other")
    text = await _mail(mail_dir, body["email"], "order_cancelled")
    assert f"/similar?sku={sku}" in text  # delivery_time's offer: products like it, ready to ship
    match = FEEDBACK_LINK.search(text)
    assert match is not None, text
    assert (match.group(1), match.group(2)) == (placed["id"], "delivery_time")
    token = match.group(3)
    other_match = FEEDBACK_LINK.search(await _mail(mail_dir, other_body["email"], "order_cancelled"))
    assert other_match is not None
    url = f"/v1/cancellations/{placed['id']}/feedback"

    for bad, field in (
        ({"score": 6}, "score"),
        ({"score": 0, "comment": "x"}, "score"),
        ({"score": "5"}, "score"),
        ({"score": 3, "comment": "x" * 2001}, "comment"),
        ({"score": 3, "mood": "sad"}, "mood"),
    ):
        refused = await gateway.post(url, params={"token": token}, json=bad)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert any(field in name for name in _fields(refused)), refused.json()
    missing = await gateway.post(url, json={"score": 3})
    assert missing.status_code == 422
    assert any("token" in name for name in _fields(missing))
    for bad_token, status, code in (
        ("nonsense", 400, "malformed_token"),
        (other_match.group(3), 401, "invalid_token"),  # another cancellation's link
        (token[:-1] + ("0" if token[-1] != "0" else "1"), 401, "invalid_token"),
    ):
        refused = await gateway.post(url, params={"token": bad_token}, json={"score": 1})
        assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text
        assert _fields(refused) == ["query:token"]

    given = await gateway.post(
        url, params={"token": token}, json={"score": 2, "comment": "Too slow for a gift"}
    )
    assert given.status_code == 201, given.text
    assert (given.json()["score"], given.json()["comment"], given.json()["already_given"]) == (
        2,
        "Too slow for a gift",
        False,
    )
    again = await gateway.post(url, params={"token": token}, json={"score": 5})
    assert again.status_code == 200, again.text
    assert (again.json()["score"], again.json()["comment"], again.json()["already_given"]) == (
        2,
        "Too slow for a gift",
        True,
    )

    window = {"since": started.isoformat(), "until": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()}
    assert (await gateway.get("/v1/admin/cancellations/feedback", params=window)).status_code == 401
    listed = await gateway.get("/v1/admin/cancellations/feedback", params=window, headers=STAFF)
    assert listed.status_code == 200, listed.text
    [item] = [item for item in listed.json()["items"] if item["order_id"] == placed["id"]]
    assert (item["reason"], item["cancelled_by"], item["score"], item["comment"]) == (
        "delivery_time",
        "customer",
        2,
        "Too slow for a gift",
    )


async def test_each_reason_offers_its_own_code_which_only_its_customer_can_use(
    gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    offers = await gateway.get("/v1/admin/cancellations/offers", headers=STAFF)
    assert offers.status_code == 200, offers.text
    assert offers.json()["offers"]["shipping_cost"]["kind"] == "free_shipping"
    assert offers.json()["offers"]["found_cheaper"]["amount_off"] == {"KRW": 5000, "USD": 500}
    assert "payment_method" not in offers.json()["offers"]
    sku = new_sku("WINB")
    await product_in_stock(gateway, sku=sku, units=10, price=50000)

    # Shipping cost: a free-shipping code, for this guest's email address only.
    body = checkout(sku, locale="ko")
    placed = await _cancelled(gateway, body, "shipping_cost")
    code = await _code(gateway, placed)
    assert (code["kind"], code["used"]) == ("free_shipping", False)
    text = await _mail(mail_dir, body["email"], "order_cancelled")
    assert "주문당 한 번만" in text  # the answer to the reason, in Korean
    assert code["code"] not in text  # the code is an offer: its own (marketing) email
    stranger = await place_order(gateway, {**checkout(sku), "discount_code": code["code"]})
    assert stranger.status_code == 422, stranger.text
    assert (stranger.json()["code"], _fields(stranger)) == ("discount_code_not_yours", ["discount_code"])
    again = (await place_order(gateway, {**body, "discount_code": code["code"]})).json()
    order = await wait_for_status(gateway, again, "confirmed")
    assert (order["totals"]["shipping"], order["totals"]["discount"], order["totals"]["total"]) == (
        0,
        0,
        50000,
    )
    assert order["payments"]["captured"] == 50000
    used = await place_order(gateway, {**body, "discount_code": code["code"]})
    assert used.status_code == 409
    assert _fields(used) == ["discount_code"]

    # Found it cheaper: 5,000 won off; a reason with no offer gives no code.
    body = checkout(sku, locale="en")
    placed = await _cancelled(gateway, body, "found_cheaper")
    code = await _code(gateway, placed)
    assert (code["kind"], code["amount_off"], code["currency"]) == ("fixed_amount", 5000, "KRW")
    again = (await place_order(gateway, {**body, "discount_code": code["code"]})).json()
    order = await wait_for_status(gateway, again, "confirmed")
    assert (order["totals"]["shipping"], order["totals"]["discount"], order["totals"]["total"]) == (
        3000,
        5000,
        48000,
    )
    none = await _cancelled(gateway, checkout(sku), "payment_method")
    assert await _code(gateway, none) is None


async def test_staff_see_a_cancellation_saved_by_a_new_order_and_one_lost_once_the_window_passed(
    gateway: httpx.AsyncClient, clock: Callable[[timedelta], None]
) -> None:
    # Far from where other tests leave the shop's time, so the figures' window holds only these cancellations.
    clock(timedelta(days=400))
    started = datetime.now(UTC) + timedelta(days=400) - timedelta(minutes=1)
    sku = new_sku("SAVE")
    await product_in_stock(gateway, sku=sku, units=10, price=20000)
    saved_body = checkout(sku, locale="en")
    await _cancelled(gateway, saved_body, "payment_method")
    await _cancelled(gateway, checkout(sku, locale="en"), "account_required")
    # The first customer comes back days later, typing the email address in another case: the same guest.
    clock(timedelta(days=405))
    back = (await place_order(gateway, {**saved_body, "email": saved_body["email"].upper()})).json()
    await wait_for_status(gateway, back, "confirmed")

    async def figures() -> dict[str, dict[str, Any]]:
        response = await gateway.get(
            "/v1/admin/cancellations",
            params={"since": started.isoformat(), "until": (started + timedelta(days=40)).isoformat()},
            headers=STAFF,
        )
        assert response.status_code == 200, response.text
        return {row["reason"]: row for row in response.json()["reasons"]}

    early = await figures()
    assert (early["payment_method"]["saved"], early["payment_method"]["open"]) == (1, 0)
    assert (early["account_required"]["open"], early["account_required"]["lost"]) == (1, 0)
    clock(timedelta(days=431))  # past the 30 days of SHOP_ORDERS_SAVED_WITHIN_DAYS
    late = await figures()
    assert {key: late["payment_method"][key] for key in ("cancelled", "saved", "lost", "open")} == {
        "cancelled": 1,
        "saved": 1,
        "lost": 0,
        "open": 0,
    }
    assert {key: late["account_required"][key] for key in ("cancelled", "saved", "lost", "open")} == {
        "cancelled": 1,
        "saved": 0,
        "lost": 1,
        "open": 0,
    }


async def _member(gateway: httpx.AsyncClient, *, consent: bool) -> tuple[str, str]:
    """A new account (with or without consent to marketing) and its bearer token."""
    email = new_email("member")
    signed_up = await Storefront(gateway).sign_up(
        email=email, password=PASSWORD, name="Lee Jiwoo", marketing_consent=consent
    )
    assert signed_up.status_code == 201, signed_up.text
    signed_in = await Storefront(gateway).sign_in(email, PASSWORD)
    assert signed_in.status_code == 200, signed_in.text
    return email, str(signed_in.json()["access_token"])


async def _cancelled_as_member(
    gateway: httpx.AsyncClient, sku: str, email: str, token: str
) -> dict[str, Any]:
    response = await gateway.post(
        "/v1/orders",
        json=checkout(sku, email=email, locale="en"),
        headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 202, response.text
    placed = response.json()
    await wait_for_status(gateway, placed, "confirmed")
    cancelled = await Storefront(gateway).cancel(access(placed), "other")
    assert cancelled.status_code == 200, cancelled.text
    return placed  # type: ignore[no-any-return]


async def _log(stack: Stack, order_id: str, count: int) -> list[dict[str, Any]]:
    """Notifications' delivery log of an order's cancellation (the email and the offer) once ``count`` of them
    left pending."""
    found: list[dict[str, Any]] = []

    async def settled() -> None:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{stack.config.service_port('notifications')}"
        ) as client:
            response = await client.get("/notifications", params={"order_id": order_id})
        items = [
            item
            for item in response.json()["items"]
            if item["template"] in ("order_cancelled", "win_back_offer")
        ]
        assert len(items) == count, items
        assert all(item["status"] != "pending" for item in items), items
        found[:] = items

    await eventually(settled, timeout=20)
    return found


async def test_the_offer_email_goes_to_an_account_that_consented_and_waits_for_consent_otherwise(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path
) -> None:
    sku = new_sku("CONSENT")
    await product_in_stock(gateway, sku=sku, units=10, price=30000)
    consenting, consenting_token = await _member(gateway, consent=True)
    declining, declining_token = await _member(gateway, consent=False)

    placed = await _cancelled_as_member(gateway, sku, consenting, consenting_token)
    code = await _code(gateway, placed)
    assert (code["kind"], code["percent_off"]) == ("percent", 10)
    offer = await _mail(mail_dir, consenting, "win_back_offer")
    assert code["code"] in offer
    assert "10% off" in offer
    assert "/unsubscribe?token=" in offer  # marketing: it can be turned off
    stranger = await place_order(
        gateway, {**checkout(sku), "email": consenting, "discount_code": code["code"]}
    )
    assert stranger.status_code == 422  # a guest with the same address is not the account the code is for
    assert _fields(stranger) == ["discount_code"]

    held_back = await _cancelled_as_member(gateway, sku, declining, declining_token)
    log = await _log(stack, held_back["id"], 2)
    assert [(item["template"], item["status"]) for item in log] == [
        ("order_cancelled", "sent"),
        ("win_back_offer", "suppressed"),
    ]
    assert log[1]["suppressed_reason"] is not None
    assert "marketing" in log[1]["suppressed_reason"]
    assert [mail["X-Shop-Template"] for mail in emails_to(mail_dir, declining)] == [
        "order_confirmed",
        "order_cancelled",
    ]

    # The customer gives consent on their account: the next offer reaches them.
    changed = await gateway.patch("/v1/me", headers=bearer(declining_token), json={"marketing_consent": True})
    assert changed.status_code == 200, changed.text
    second = await _cancelled_as_member(gateway, sku, declining, declining_token)
    log = await _log(stack, second["id"], 2)
    assert [(item["template"], item["status"]) for item in log] == [
        ("order_cancelled", "sent"),
        ("win_back_offer", "sent"),
    ]


def _day(offset_days: int) -> date:
    return (datetime.now(UTC) + timedelta(days=offset_days)).date()


def _at(offset_days: int) -> str:
    return datetime.combine(_day(offset_days), datetime.min.time(), tzinfo=UTC).isoformat()


def _english(day: date) -> str:
    return f"{day.strftime('%B')} {day.day}, {day.year}"


async def test_a_place_given_back_ahead_brings_the_next_buyers_date_forward_and_tells_them(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path
) -> None:
    sku = new_sku("QUEUE")
    await product(gateway, sku=sku, prices={"KRW": 45000})
    await put_on_preorder(stack, gateway, sku, {"payment_mode": "pay_now", "cap": 10})
    ahead_body, behind_body = checkout(sku, locale="en"), checkout(sku, locale="en")
    ahead = (await place_order(gateway, ahead_body)).json()
    await wait_for_status(gateway, ahead, "confirmed")
    behind = (await place_order(gateway, behind_body)).json()
    await wait_for_status(gateway, behind, "confirmed")
    # One unit arrives in 10 days, the next in 24: the buyer behind waits for the second.
    for days in (10, 24):
        inbound = await gateway.post(
            "/v1/admin/inbounds",
            headers=STAFF,
            json={"sku": sku, "location": "seoul-1", "quantity": 1, "expected_at": _at(days)},
        )
        assert inbound.status_code == 201, inbound.text

    async def dated(placed: dict[str, Any], day: date) -> None:
        [line] = (await order_as_customer(gateway, placed))["lines"]
        assert line["expected_ship_date"] == day.isoformat(), line

    await eventually(lambda: dated(ahead, _day(10)), timeout=20)
    await eventually(lambda: dated(behind, _day(24)), timeout=20)

    cancelled = await Storefront(gateway).cancel(access(ahead), "changed_mind")
    assert cancelled.status_code == 200, cancelled.text
    await eventually(lambda: dated(behind, _day(10)), timeout=20)  # two weeks sooner
    told = await _mail(
        mail_dir, behind_body["email"], "preorder_date_changed", containing=f"Before: {_english(_day(24))}"
    )
    assert f"Now expected to ship: {_english(_day(10))}" in told
    assert "You do not need to do anything" in told  # sooner than promised: nothing to decide
