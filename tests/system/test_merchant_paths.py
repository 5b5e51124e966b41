"""Paths merchants and customers take that other system tests leave out, through the gateway of a running shop:
a draft's custom price and custom shipping, a draft shipped abroad and taxed by its address, the free-shipping
threshold, a fixed-amount deposit, and a variant that sells on past its stock and is restocked."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import Storefront, checkout, new_email, new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    ADDRESS,
    as_staff,
    available,
    emails_to,
    expect_and_receive,
    order_as_customer,
    place_order,
    product,
    product_in_stock,
    put_on_preorder,
    text_of,
    wait_for_group,
    wait_for_status,
)
from tests.system.test_draft_orders import make_draft, wait_for_reservation

pytestmark = pytest.mark.system

NEW_YORK = {
    "name": "Alex Kim",
    "line1": "350 5th Ave",
    "city": "New York",
    "region": "NY",
    "postal_code": "10118",
    "country": "US",
}
FREE_SHIPPING_OVER_KRW = 50000


def draft_for(email: str, lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A draft body due on receipt, shipped to Seoul by standard shipping in KRW unless ``fields`` say otherwise."""
    return {
        "customer": {"email": email, "name": "Jane Park", "locale": "en"},
        "currency": "KRW",
        "lines": lines,
        "shipping": {"method": "standard"},
        "shipping_address": dict(ADDRESS),
        "payment_terms": {"type": "due_on_receipt"},
        **fields,
    }


async def invoice_emailed(mail_dir: Path, email: str, *wanted: str) -> tuple[str, str]:
    """Wait for the invoice email holding every ``wanted`` text; answer its link's draft id and token."""
    link: list[str] = []

    async def arrived() -> None:
        texts = [text_of(message) for message in emails_to(mail_dir, email)]
        assert texts, "no invoice email yet"
        text = texts[-1]
        for words in wanted:
            assert words in text, text
        found = re.search(r"/draft-orders/([0-9a-f-]+)/invoice\?token=(\S+)", text)
        assert found is not None, text
        link[:] = [found.group(1), unquote(found.group(2))]

    await eventually(arrived, timeout=20)
    return link[0], link[1]


async def pay_invoice(gateway: httpx.AsyncClient, draft_id: str, token: str) -> dict[str, Any]:
    """The customer pays the invoice by card through its link; answer the order as the checkout placed it."""
    paid = await Storefront(gateway).pay_invoice(draft_id, token)
    assert paid.status_code == 202, paid.text
    return {"id": paid.json()["order_id"], "access_token": paid.json()["access_token"]}


def charged(order: dict[str, Any]) -> list[tuple[str, int]]:
    """The order's payments as its customer sees them: status and amount of each."""
    return [(payment["status"], payment["amount"]) for payment in order["payments"]["items"]]


async def test_a_draft_line_at_a_custom_price_is_invoiced_ordered_and_charged_at_that_price(
    gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    sku = new_sku("CUSTOM")
    await product_in_stock(gateway, sku=sku, units=5, price=39000)
    email = new_email("vip")
    draft = await make_draft(
        gateway, draft_for(email, [{"sku": sku, "quantity": 2, "price_override": 30000}])
    )
    [line] = draft["lines"]
    assert (line["catalog_price"], line["unit_price"], line["price_overridden"], line["line_total"]) == (
        39000,
        30000,
        True,
        60000,
    )
    # 2 x 30,000 + 3,000 shipping = 63,000, which includes 10/110 of it as VAT: 5,727.27 -> 5,727.
    assert draft["totals"] == {
        "subtotal": 60000,
        "line_discounts": 0,
        "order_discount": 0,
        "discount": 0,
        "shipping": 3000,
        "tax": 5727,
        "tax_rate": 1000,
        "tax_included": True,
        "total": 63000,
    }
    await wait_for_reservation(gateway, draft["id"], "held")

    sent = await as_staff(gateway).send_invoice(draft["id"])
    assert sent.status_code == 200, sent.text
    draft_id, token = await invoice_emailed(mail_dir, email, "x 2: ₩60,000", "Total: ₩63,000")
    assert draft_id == draft["id"]
    invoice = await Storefront(gateway).invoice(draft_id, token)
    assert invoice.status_code == 200, invoice.text
    assert invoice.json()["lines"][0]["unit_price"] == 30000
    assert invoice.json()["totals"]["total"] == 63000

    placed = await pay_invoice(gateway, draft_id, token)
    order = await wait_for_status(gateway, placed, "confirmed")
    [ordered] = order["lines"]
    assert (ordered["sku"], ordered["quantity"], ordered["unit_price"], ordered["line_total"]) == (
        sku,
        2,
        30000,
        60000,
    )
    assert order["totals"] == {
        "subtotal": 60000,
        "shipping": 3000,
        "discount": 0,
        "tax": 5727,
        "tax_included": True,
        "total": 63000,
    }
    assert charged(order) == [("succeeded", 63000)]


async def test_a_custom_shipping_line_shows_on_the_draft_the_invoice_and_the_order(
    gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    sku = new_sku("FREIGHT")
    await product_in_stock(gateway, sku=sku, units=5, price=39000)
    email = new_email("wholesale")
    draft = await make_draft(gateway, draft_for(email, [{"sku": sku, "quantity": 2}]))
    assert (draft["shipping"]["method"], draft["totals"]["shipping"], draft["totals"]["total"]) == (
        "standard",
        3000,
        81000,
    )

    freight = {"title": "Pallet freight, tail lift", "price": 25000}
    changed = await as_staff(gateway).change_draft(draft["id"], {"shipping": freight})
    assert changed.status_code == 200, changed.text
    assert changed.json()["shipping"] == {"method": None, **freight}
    # 78,000 + 25,000 freight = 103,000, which includes 10/110 of it as VAT: 9,363.64 -> 9,364.
    assert {key: changed.json()["totals"][key] for key in ("subtotal", "shipping", "tax", "total")} == {
        "subtotal": 78000,
        "shipping": 25000,
        "tax": 9364,
        "total": 103000,
    }
    await wait_for_reservation(gateway, draft["id"], "held")

    sent = await as_staff(gateway).send_invoice(draft["id"])
    assert sent.status_code == 200, sent.text
    draft_id, token = await invoice_emailed(mail_dir, email, "Shipping: ₩25,000", "Total: ₩103,000")
    invoice = (await Storefront(gateway).invoice(draft_id, token)).json()
    assert invoice["shipping"] == {"method": None, **freight}
    assert (invoice["totals"]["shipping"], invoice["totals"]["total"]) == (25000, 103000)

    placed = await pay_invoice(gateway, draft_id, token)
    order = await wait_for_status(gateway, placed, "confirmed")
    assert order["shipping_method"] == "custom"
    assert order["totals"] == {
        "subtotal": 78000,
        "shipping": 25000,
        "discount": 0,
        "tax": 9364,
        "tax_included": True,
        "total": 103000,
    }
    assert charged(order) == [("succeeded", 103000)]


async def test_a_draft_shipped_to_new_york_adds_its_sales_tax_on_top_and_charges_it(
    gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    sku = new_sku("NYC")
    await product(gateway, sku=sku, prices={"USD": 5000})
    adjusted = await as_staff(gateway).adjust_inventory(sku, 5)
    assert adjusted.status_code == 201, adjusted.text
    email = new_email("nyc")
    body = draft_for(
        email,
        [{"sku": sku, "quantity": 2}],
        currency="USD",
        order_discount={"kind": "fixed", "value": 1000, "reason": "first order"},
    )
    draft = await make_draft(gateway, body)
    # To Seoul the prices include Korean VAT: 10/110 of 100.00 - 10.00 + 5.00 = 8.636... -> 8.64.
    assert {key: draft["totals"][key] for key in ("tax", "tax_rate", "tax_included", "total")} == {
        "tax": 864,
        "tax_rate": 1000,
        "tax_included": True,
        "total": 9500,
    }
    moved = await as_staff(gateway).change_draft(draft["id"], {"shipping_address": NEW_YORK})
    assert moved.status_code == 200, moved.text
    # To New York: 4 % sales tax on 100.00 - 10.00 discount + 5.00 shipping = 3.80, added on top.
    assert moved.json()["totals"] == {
        "subtotal": 10000,
        "line_discounts": 0,
        "order_discount": 1000,
        "discount": 1000,
        "shipping": 500,
        "tax": 380,
        "tax_rate": 400,
        "tax_included": False,
        "total": 9880,
    }
    await wait_for_reservation(gateway, draft["id"], "held")

    sent = await as_staff(gateway).send_invoice(draft["id"])
    assert sent.status_code == 200, sent.text
    draft_id, token = await invoice_emailed(mail_dir, email, "Tax: $3.80", "Total: $98.80")
    invoice = (await Storefront(gateway).invoice(draft_id, token)).json()
    assert (invoice["totals"]["tax"], invoice["totals"]["tax_included"], invoice["totals"]["total"]) == (
        380,
        False,
        9880,
    )

    placed = await pay_invoice(gateway, draft_id, token)
    order = await wait_for_status(gateway, placed, "confirmed")
    assert order["totals"] == {
        "subtotal": 10000,
        "shipping": 500,
        "discount": 1000,
        "tax": 380,
        "tax_included": False,
        "total": 9880,
    }
    assert order["tax_rate"] == 400
    assert charged(order) == [("succeeded", 9880)]


@pytest.fixture
def free_shipping_over(stack: Stack) -> Iterator[int]:
    """Orders' HTTP process (which prices checkouts and quotes) runs with a KRW free-shipping threshold for
    the test, and without one again after it."""
    threshold = {"SHOP_ORDERS_FREE_SHIPPING_OVER": f'{{"KRW": {FREE_SHIPPING_OVER_KRW}}}'}
    stack.restart("orders-http", extra_env=threshold)
    try:
        stack.wait_http("orders-http", timeout=60)
        yield FREE_SHIPPING_OVER_KRW
    finally:
        stack.restart("orders-http")
        stack.wait_http("orders-http", timeout=60)


async def test_standard_shipping_is_paid_just_under_the_free_shipping_threshold_and_free_from_it(
    gateway: httpx.AsyncClient, free_shipping_over: int
) -> None:
    under, at = new_sku("UNDER"), new_sku("AT")
    await product_in_stock(gateway, sku=under, units=5, price=free_shipping_over - 1)
    await product_in_stock(gateway, sku=at, units=5, price=free_shipping_over // 2)
    storefront = Storefront(gateway)

    async def quote(sku: str, quantity: int) -> dict[str, dict[str, Any]]:
        answer = await storefront.shipping_rates(
            currency="KRW", lines=[{"sku": sku, "quantity": quantity}], address=ADDRESS
        )
        assert answer.status_code == 200, answer.text
        return {method["method"]: method for method in answer.json()["methods"]}

    async def quoted() -> None:
        just_under = await quote(under, 1)
        assert (just_under["standard"]["shipping"], just_under["standard"]["total"]) == (3000, 52999)
        at_threshold = await quote(at, 2)
        assert (at_threshold["standard"]["shipping"], at_threshold["standard"]["total"]) == (0, 50000)
        assert at_threshold["express"]["shipping"] == 6000  # the threshold frees standard shipping only
        assert (await quote(at, 3))["standard"]["shipping"] == 0

    await eventually(quoted, timeout=20)  # through the restarted process, once orders knows both SKUs

    paying = await place_order(gateway, checkout(under))
    assert paying.status_code == 202, paying.text
    order = await wait_for_status(gateway, paying.json(), "confirmed")
    assert (order["totals"]["subtotal"], order["totals"]["shipping"], order["totals"]["total"]) == (
        49999,
        3000,
        52999,
    )
    assert charged(order) == [("succeeded", 52999)]

    free = await place_order(gateway, checkout(at, quantity=2))
    assert free.status_code == 202, free.text
    order = await wait_for_status(gateway, free.json(), "confirmed")
    # 50,000 with VAT included: 4,545.45 -> 4,545.
    assert order["totals"] == {
        "subtotal": 50000,
        "shipping": 0,
        "discount": 0,
        "tax": 4545,
        "tax_included": True,
        "total": 50000,
    }
    assert charged(order) == [("succeeded", 50000)]


async def test_a_fixed_deposit_preorder_charges_the_deposit_per_unit_then_the_rest_as_the_balance(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path, clock: Callable[[timedelta], None]
) -> None:
    sku = new_sku("FIXED")
    product_id = await product(gateway, sku=sku, prices={"KRW": 39000})
    policy = {
        "payment_mode": "deposit",
        "deposit_amounts": {"KRW": 10000},
        "cap": 20,
        "expected_ship_date": "2027-01-20",
    }
    await put_on_preorder(stack, gateway, sku, policy)
    shown = (await gateway.get(f"/v1/products/{product_id}")).json()["variants"][0]["preorder"]
    assert shown["deposit_amounts"] == {"KRW": 10000}
    [krw] = shown["prices"]
    assert (krw["unit_price"], krw["deposit"], krw["balance"]) == (39000, 10000, 29000)

    body = checkout(sku, quantity=3, locale="en")
    placed = (await place_order(gateway, body)).json()
    order = await wait_for_status(gateway, placed, "confirmed")
    [line] = order["lines"]
    # 3 x 10,000 now (not a percent of 117,000), the shipping with it; 117,000 - 30,000 later.
    assert (line["kind"], line["line_total"], line["paid_now"], line["balance"]) == (
        "preorder",
        117000,
        30000,
        87000,
    )
    assert order["charged_at_checkout"] == 30000 + 3000
    assert order["payments"]["captured"] == 33000

    async def confirmation_says_deposit_and_balance() -> None:
        texts = [text_of(message) for message in emails_to(mail_dir, body["email"])]
        assert any(
            "Deposit paid now: ₩30,000" in text and "Balance to pay: ₩87,000" in text for text in texts
        ), texts

    await eventually(confirmation_says_deposit_and_balance, timeout=20)

    await expect_and_receive(gateway, sku, expected=3, received=3)
    order = await wait_for_group(gateway, placed, "balance_scheduled")
    [group] = [g for g in order["shipment_groups"] if g["kind"] == "preorder"]
    assert group["balance"] == 87000
    clock(timedelta(hours=25))  # a day's notice, then the balance is charged
    order = await wait_for_group(gateway, placed, "pick_requested", timeout=30)
    assert order["payments"]["captured"] == 33000 + 87000 == order["totals"]["total"]
    assert sorted(amount for status, amount in charged(order) if status == "succeeded") == [33000, 87000]


async def test_a_variant_selling_on_past_its_stock_is_back_in_stock_when_units_arrive(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    sku = new_sku("ONGOING")
    product_id = await product_in_stock(gateway, sku=sku, units=2, price=20000)
    policy = {
        "payment_mode": "pay_now",
        "continue_selling_when_sold_out": True,
        "cap": 50,
        "expected_ship_date": "2027-01-20",
    }
    await put_on_preorder(stack, gateway, sku, policy)

    from_stock = (await place_order(gateway, checkout(sku, quantity=2))).json()
    order = await wait_for_status(gateway, from_stock, "confirmed")
    assert order["lines"][0]["kind"] == "in_stock"
    assert order["waiting_preorders"] == []

    async def sold_out_and_on_preorder() -> None:
        shown = (await gateway.get(f"/v1/products/{product_id}")).json()["variants"][0]
        assert (shown["available"], shown["preorder"]["active"]) == (0, True), shown

    await eventually(sold_out_and_on_preorder, timeout=20)

    waiting = (await place_order(gateway, checkout(sku, quantity=1))).json()
    order = await wait_for_status(gateway, waiting, "confirmed")
    [line] = order["lines"]
    assert (line["kind"], line["queue_position"], line["paid_now"]) == ("preorder", 1, 20000)
    assert order["waiting_preorders"][0]["quantity"] == 1
    assert order["shipment_groups"] == []

    await expect_and_receive(gateway, sku, expected=3, received=3)
    # The waiting pre-order takes the first unit; the other two are for sale from stock again.
    order = await wait_for_group(gateway, waiting, "pick_requested")
    assert order["waiting_preorders"] == []
    assert order["payments"]["captured"] == 20000 + 3000  # paid in full at checkout: nothing more

    async def in_stock_again() -> None:
        assert await available(gateway, product_id) == 2
        shown = (await gateway.get(f"/v1/products/{product_id}")).json()["variants"][0]
        assert shown["preorder"]["active"] is False, shown

    await eventually(in_stock_again, timeout=20)

    restocked = (await place_order(gateway, checkout(sku, quantity=2))).json()
    order = await wait_for_status(gateway, restocked, "confirmed")
    [line] = order["lines"]
    assert (line["kind"], line["queue_position"]) == ("in_stock", None)
    assert order["waiting_preorders"] == []

    async def shipping_from_stock() -> None:
        view = await order_as_customer(gateway, restocked)
        assert [(g["kind"], g["status"]) for g in view["shipment_groups"]] == [("in_stock", "pick_requested")]

    await eventually(shipping_from_stock, timeout=20)
    assert charged(await order_as_customer(gateway, restocked)) == [("succeeded", 43000)]
    assert await available(gateway, product_id) == 0
