"""The hosted cancellation feedback page in a real browser (JavaScript off): a guest cancels from the order's page
(orders records the customer, not staff), opens the feedback link of the cancellation email, sees the offer of
the reason, answers once, and staff read the answer; a second answer changes nothing. Screenshots in Korean and
English go to var/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page

from shop_storefront import checkout, new_sku
from tests.browser.test_pages import link_in_email, open_page, shoot, submit
from tests.support.messages import eventually
from tests.system.shop import STAFF, order_as_customer, place_order, product_in_stock, wait_for_status

pytestmark = pytest.mark.browser

CASES = {
    # locale: (reason chosen on the order page, what the feedback page offers for it)
    "ko": ("shipping_cost", "무료 배송"),
    "en": ("delivery_time", "Products like the ones you cancelled"),
}


async def _feedback_given(gateway: httpx.AsyncClient, order_id: str, since: datetime) -> list[dict[str, Any]]:
    window = {"since": since.isoformat(), "until": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()}
    listed = await gateway.get("/v1/admin/cancellations/feedback", params=window, headers=STAFF)
    assert listed.status_code == 200, listed.text
    return [item for item in listed.json()["items"] if item["order_id"] == order_id]


@pytest.mark.parametrize("locale", ["ko", "en"])
async def test_a_guest_cancels_from_the_page_then_gives_feedback_once_on_the_feedback_page(
    page: Page, gateway: httpx.AsyncClient, mail_dir: Path, locale: str
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=1)
    reason, offered = CASES[locale]
    sku = new_sku("FEEDPAGE")
    await product_in_stock(gateway, sku=sku, units=5, price=25000)
    body = checkout(sku, locale=locale)
    placed = (await place_order(gateway, body)).json()
    await wait_for_status(gateway, placed, "confirmed")

    # The guest cancels from the order's page: orders records that the customer did it.
    order_link = await link_in_email(mail_dir, body["email"], f"/pages/orders/{placed['id']}")
    assert await open_page(page, order_link) == 200
    await page.select_option("#cancel-reason", reason)
    await submit(page, "#cancel button")
    order = await order_as_customer(gateway, placed)
    [requested] = [entry for entry in order["timeline"] if entry["event"] == "cancel_requested"]
    assert (requested["detail"]["by"], requested["detail"]["reason"]) == ("customer", reason)

    # The cancellation email links to the hosted feedback page.
    link = await link_in_email(mail_dir, body["email"], "/pages/feedback")
    assert f"order={placed['id']}" in link
    assert f"reason={reason}" in link
    assert await open_page(page, link) == 200
    assert await page.locator("html").get_attribute("lang") == locale
    assert offered in await page.locator("#offer").inner_text()
    if locale == "en":
        assert f"/similar?sku={sku}" in (await page.locator("#offer-link").get_attribute("href") or "")
    else:
        assert await page.locator("#offer-code").inner_text() != ""
    await shoot(page, "feedback", locale)

    comment = "배송비가 상품보다 비쌌어요" if locale == "ko" else "Too slow for a gift"
    await page.check("#score-4")
    await page.fill("#comment", comment)
    form = {
        name: await page.locator(f"#feedback input[name={name}]").get_attribute("value") or ""
        for name in ("order", "reason", "token", "lang", "csrf")
    }
    await submit(page, "#feedback button")
    assert await page.locator("#kept-score").inner_text() == "4 / 5"
    assert await page.locator("#kept-comment").inner_text() == comment
    assert await page.locator("#feedback").count() == 0  # nothing more to send
    await shoot(page, "feedback-kept", locale)

    async def staff_read_it() -> None:
        [given] = await _feedback_given(gateway, placed["id"], started)
        assert (given["score"], given["comment"], given["cancelled_by"]) == (4, comment, "customer")

    await eventually(staff_read_it, timeout=10)

    # The same form sent again (another score, another comment) shows what was kept, and keeps it.
    again = await page.request.post(
        link.split("/pages/")[0] + "/pages/feedback", form={**form, "score": "1", "comment": "changed"}
    )
    assert again.status == 200
    assert "4 / 5" in await again.text()
    assert comment in await again.text()
    [kept] = await _feedback_given(gateway, placed["id"], started)
    assert (kept["score"], kept["comment"]) == (4, comment)


async def test_a_changed_feedback_link_gets_a_plain_page(
    page: Page, gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    sku = new_sku("FEEDPAGE")
    await product_in_stock(gateway, sku=sku, units=5)
    body = checkout(sku, locale="en")
    placed = (await place_order(gateway, body)).json()
    await wait_for_status(gateway, placed, "confirmed")
    cancelled = await gateway.post(
        f"/v1/orders/{placed['id']}/cancel",
        json={"reason": "other"},
        headers={"Authorization": f"Bearer {placed['access_token']}"},
    )
    assert cancelled.status_code == 200, cancelled.text
    link = await link_in_email(mail_dir, body["email"], "/pages/feedback")

    assert await open_page(page, link[:-4] + ("0000" if not link.endswith("0000") else "1111")) == 404
    assert "does not work" in await page.locator("#problem").inner_text()
    assert await open_page(page, link.split("&token=")[0]) == 400  # no token
    other = link.replace(placed["id"], "00000000-0000-4000-8000-000000000000")
    assert await open_page(page, other) == 404  # a token opens its own order's feedback only
    assert "Traceback" not in await page.content()
