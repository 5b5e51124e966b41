"""The hosted customer pages in a real browser (Debian's Chromium through Playwright, JavaScript off): each page
is opened from the link in the email the shop sent, read, acted on, and the outcome checked through the API and
the next email. Screenshots of every page in Korean and English go to var/screenshots/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page

from scripts.stack import Stack
from shop_storefront import Storefront, checkout, new_sku
from tests.browser.conftest import SCREENSHOTS
from tests.support.messages import eventually
from tests.system.shop import (
    STAFF,
    as_staff,
    emails_to,
    order_as_customer,
    place_order,
    product,
    product_in_stock,
    put_on_preorder,
    text_of,
    wait_for_status,
)
from tests.system.test_draft_orders import draft_body, make_draft, wait_for_reservation

pytestmark = pytest.mark.browser


async def link_in_email(mail_dir: Path, address: str, path: str, *, containing: str = "") -> str:
    """The link to ``path`` in the latest email to ``address`` that has one (and says ``containing``)."""
    pattern = re.compile(rf"https?://\S+{re.escape(path)}\S*")
    found: list[str] = []

    async def emailed() -> None:
        links = [
            match.group(0)
            for message in emails_to(mail_dir, address)
            if containing in (text := text_of(message))
            for match in [pattern.search(text)]
            if match
        ]
        assert links, f"no email to {address} links to {path}"
        found.append(links[-1])

    await eventually(emailed, timeout=30)
    return found[-1]


async def submit(page: Page, selector: str) -> None:
    """Click a button or link and wait for the page it leads to (a form's answer redirects to its page)."""
    async with page.expect_navigation(wait_until="load", timeout=20_000):
        await page.click(selector)


async def shoot(page: Page, name: str, locale: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}-{locale}.png"), full_page=True)


async def open_page(page: Page, url: str) -> int:
    response = await page.goto(url)
    assert response is not None
    headers = await response.all_headers()
    csp = headers["content-security-policy"]
    assert "script-src" not in csp  # no script of any origin
    assert "default-src 'none'" in csp
    assert await page.locator("meta[name=viewport]").count() == 1
    return response.status


def _day(offset_days: int) -> str:
    day = (datetime.now(UTC) + timedelta(days=offset_days)).date()
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC).isoformat()


@pytest.mark.parametrize("locale", ["ko", "en"])
async def test_the_order_status_page_shows_the_order_and_cancels_it_once(
    page: Page, gateway: httpx.AsyncClient, mail_dir: Path, locale: str
) -> None:
    sku = new_sku("PAGE")
    await product_in_stock(gateway, sku=sku, units=5, price=39000)
    body = checkout(sku, quantity=2, locale=locale)
    placed = (await place_order(gateway, body)).json()
    await wait_for_status(gateway, placed, "confirmed")

    link = await link_in_email(mail_dir, body["email"], f"/pages/orders/{placed['id']}")
    assert await open_page(page, link) == 200
    assert await page.locator("html").get_attribute("lang") == locale
    status = "주문 확정" if locale == "ko" else "Confirmed"
    assert await page.locator("#status").inner_text() == status
    assert await page.locator("#total").inner_text() == ("81,000원" if locale == "ko" else "₩81,000")
    await shoot(page, "order-status", locale)

    await page.select_option("#cancel-reason", "delivery_time")
    await submit(page, "#cancel button")
    assert await page.locator("#outcome").count() == 1

    async def shows_cancelled() -> None:
        await page.reload()
        assert await page.locator("#status").inner_text() == ("주문 취소" if locale == "ko" else "Cancelled")

    await eventually(shows_cancelled, timeout=20)
    assert await page.locator("#cancel").count() == 0  # nothing left to cancel
    order = await order_as_customer(gateway, placed)
    assert order["status"] == "cancelled"
    [requested] = [entry for entry in order["timeline"] if entry["event"] == "cancel_requested"]
    assert requested["detail"]["by"] == "customer"  # a guest's page acts as the customer, not as staff

    # A double submit (the form sent again from the browser's history) changes nothing.
    await page.go_back()
    await page.go_back()
    resent = await page.request.post(
        f"{link.split('/pages/')[0]}/pages/orders/{placed['id']}/cancel",
        form={"token": link.split("token=")[1], "csrf": "forged.0", "reason": "other"},
    )
    assert resent.status == 403  # a form this gateway did not make is refused
    after = await order_as_customer(gateway, placed)
    assert [e["event"] for e in after["timeline"]].count("cancel_requested") == 1

    # The cancellation email links back to the same page.
    cancelled_link = await link_in_email(
        mail_dir, body["email"], f"/pages/orders/{placed['id']}", containing=order["id"][:8]
    )
    assert await open_page(page, cancelled_link) == 200


async def test_a_changed_or_expired_link_gets_a_plain_page_saying_what_to_do(
    page: Page, gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    sku = new_sku("PAGE")
    await product_in_stock(gateway, sku=sku, units=5)
    body = checkout(sku, locale="en")
    placed = (await place_order(gateway, body)).json()
    link = await link_in_email(mail_dir, body["email"], f"/pages/orders/{placed['id']}")

    assert await open_page(page, link[:-4] + "0000") == 404
    assert "does not work" in await page.locator("#problem").inner_text()
    other = link.replace(placed["id"], "00000000-0000-4000-8000-000000000000")
    assert await open_page(page, other) == 404  # a token opens its own order only
    assert await open_page(page, link.split("?")[0]) == 400
    assert "Traceback" not in await page.content()


async def test_the_decision_page_keeps_one_pre_order_and_cancels_another_showing_the_refund_first(
    page: Page, gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path
) -> None:
    sku = new_sku("LATE")
    await product(gateway, sku=sku, prices={"KRW": 50000})
    policy = {"payment_mode": "deposit", "deposit_percent": 30, "cap": 10, "deposit_refundable": False}
    await put_on_preorder(stack, gateway, sku, policy)
    keeping, cancelling = checkout(sku, locale="ko"), checkout(sku, locale="en")
    placed = [(await place_order(gateway, body)).json() for body in (keeping, cancelling)]
    for each in placed:
        await wait_for_status(gateway, each, "confirmed")
    inbound = await gateway.post(
        "/v1/admin/inbounds",
        headers=STAFF,
        json={"sku": sku, "location": "seoul-1", "quantity": 3, "expected_at": _day(10)},
    )
    assert inbound.status_code == 201, inbound.text

    async def dated() -> None:
        for each in placed:
            assert (await order_as_customer(gateway, each))["lines"][0]["expected_ship_date"] is not None

    await eventually(dated, timeout=20)
    late = await gateway.patch(
        f"/v1/admin/inbounds/{inbound.json()['id']}", headers=STAFF, json={"expected_at": _day(45)}
    )
    assert late.status_code == 200, late.text

    # Korean customer keeps the order.
    link = await link_in_email(
        mail_dir, keeping["email"], f"/pages/orders/{placed[0]['id']}/preorder-decision", containing="답변"
    )
    assert await open_page(page, link) == 200
    assert "약속" in await page.locator("#rule").first.inner_text()
    await shoot(page, "preorder-decision", "ko")
    await submit(page, "#choose button[value=accept]")
    assert "유지" in await page.locator("#outcome").inner_text()
    kept = await order_as_customer(gateway, placed[0])
    assert (kept["status"], kept["preorder_consent_awaited"]) == ("confirmed", False)

    # English customer sees the refund, then cancels; sending it twice changes nothing.
    link = await link_in_email(
        mail_dir,
        cancelling["email"],
        f"/pages/orders/{placed[1]['id']}/preorder-decision",
        containing="answer",
    )
    assert await open_page(page, link) == 200
    await shoot(page, "preorder-decision", "en")
    await submit(page, "#cancel-link")
    assert await page.locator("#refund").inner_text() == "₩18,000"  # the deposit and shipping, all of it
    await shoot(page, "preorder-decision-confirm", "en")
    form_page = page.url
    await submit(page, "#confirm button[value=cancel]")
    assert "cancelled" in await page.locator("#outcome").inner_text()
    await page.goto(form_page)
    await page.go_back()
    cancelled = await order_as_customer(gateway, placed[1])
    assert cancelled["status"] == "cancelled"
    refunds = (await gateway.get(f"/v1/orders/{placed[1]['id']}", headers=STAFF)).json()["payments"]
    assert refunds["refunded"] == 18000
    await link_in_email(
        mail_dir, cancelling["email"], f"/pages/orders/{placed[1]['id']}", containing="cancelled"
    )


async def test_preferences_and_the_unsubscribe_confirmation(
    page: Page, gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    for locale in ("ko", "en"):
        sku = new_sku("WAIT")
        await product(gateway, sku=sku, prices={"KRW": 30000})
        address = f"wait.{locale}.{sku.lower()}@example.com"
        joined = await Storefront(gateway).join_waitlist(sku=sku, email=address, locale=locale)
        assert joined.status_code == 201, joined.text
        await as_staff(gateway).adjust_inventory(sku, 3)

        unsubscribe = await link_in_email(mail_dir, address, "/pages/unsubscribe")
        assert await open_page(page, unsubscribe) == 200  # opening it unsubscribes nothing
        await shoot(page, "unsubscribe", locale)
        preferences = await link_in_email(mail_dir, address, "/pages/preferences")
        token = preferences.split("token=")[1].split("&")[0]
        shown = (await gateway.get("/v1/preferences", params={"token": _unquote(token)})).json()
        assert shown["waitlist"] is True
        await page.goto(unsubscribe)
        await submit(page, "#unsubscribe button")
        assert await page.locator("#outcome").count() == 1
        assert (await gateway.get("/v1/preferences", params={"token": _unquote(token)})).json()[
            "waitlist"
        ] is False

        assert await open_page(page, preferences) == 200
        assert await page.locator("#waitlist").is_checked() is False
        await shoot(page, "preferences", locale)
        await page.check("#marketing")
        await submit(page, "#preferences button")
        assert await page.locator("#outcome").count() == 1
        assert await page.locator("#marketing").is_checked()
        chosen = (await gateway.get("/v1/preferences", params={"token": _unquote(token)})).json()
        assert (chosen["marketing"], chosen["waitlist"]) == (True, False)


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)


async def test_the_invoice_page_pays_with_a_token_and_then_shows_the_order(
    page: Page, gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    for locale in ("ko", "en"):
        sku = new_sku("INV")
        await product_in_stock(gateway, sku=sku, units=5, price=20000)
        address = f"invoice.{locale}.{sku.lower()}@example.com"
        body = draft_body(sku, email=address, quantity=1)
        body["customer"]["locale"] = locale
        draft = await make_draft(gateway, body)
        await wait_for_reservation(gateway, draft["id"], "held")
        sent = await gateway.post(f"/v1/admin/draft-orders/{draft['id']}/invoice", headers=STAFF)
        assert sent.status_code == 200, sent.text

        link = await link_in_email(mail_dir, address, f"/pages/draft-orders/{draft['id']}/invoice")
        assert await open_page(page, link) == 200
        assert await page.locator("input[name=payment_token]").count() >= 2
        assert await page.locator("input[name*=card], input[name*=number]").count() == 0
        await shoot(page, "invoice", locale)
        await page.check("input[value=tok_visa]")
        await submit(page, "#pay button")
        assert await page.locator("#outcome").count() == 1

        async def paid(draft: dict[str, Any] = draft) -> None:
            invoice = (await gateway.get(f"/v1/admin/draft-orders/{draft['id']}", headers=STAFF)).json()
            assert invoice["order_id"] is not None

        await eventually(paid, timeout=20)
        await page.reload()
        assert await page.locator("#order #status").count() == 1
        await shoot(page, "invoice-paid", locale)
