"""Message preferences through the gateway of a running shop: a waitlist email carries the one-click unsubscribe
headers and links, the one-click POST works without a login, the next waitlist email is recorded as suppressed and
never sent while the order confirmation still arrives, and preferences are read and changed with the link's token."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import Storefront, checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    STAFF,
    emails_to,
    place_order,
    product,
    product_in_stock,
    text_of,
    wait_for_status,
)

pytestmark = pytest.mark.system


async def _restock(gateway: httpx.AsyncClient, sku: str) -> None:
    restocked = await gateway.post(
        "/v1/admin/inventory/adjustments",
        headers=STAFF,
        json={"sku": sku, "location": "seoul-1", "delta": 3, "reason": "received"},
    )
    assert restocked.status_code == 201, restocked.text


async def _wait_for_back_in_stock(gateway: httpx.AsyncClient, address: str) -> str:
    """Join the waitlist of a new variant with ``address`` and bring it back in stock; the entry's id."""
    sku = new_sku("PREF")
    await product(gateway, sku=sku, prices={"KRW": 25000})
    joined = await Storefront(gateway).join_waitlist(sku=sku, email=address)
    assert joined.status_code == 201, joined.text
    await _restock(gateway, sku)
    return str(joined.json()["id"])


def _token(link: str) -> str:
    [token] = parse_qs(urlsplit(link).query)["token"]
    return token


def _waitlist_mails(mail_dir: Path, address: str) -> list[EmailMessage]:
    return [
        mail for mail in emails_to(mail_dir, address) if mail["X-Shop-Template"] == "waitlist_back_in_stock"
    ]


async def _notifications_of(stack: Stack, reference: str) -> list[dict[str, Any]]:
    """Notifications' delivery log of an order or a waitlist entry, as operators read it."""
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{stack.config.service_port('notifications')}"
    ) as client:
        response = await client.get("/notifications", params={"order_id": reference})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_one_click_unsubscribe_stops_waitlist_email_but_never_the_order_confirmation(
    gateway: httpx.AsyncClient, stack: Stack, mail_dir: Path
) -> None:
    address = f"pref-{new_sku('A').lower()}@example.com"
    storefront = Storefront(gateway)
    await _wait_for_back_in_stock(gateway, address)

    async def told() -> None:
        assert len(_waitlist_mails(mail_dir, address)) == 1

    await eventually(told, timeout=20)
    [mail] = _waitlist_mails(mail_dir, address)
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = str(mail["List-Unsubscribe"])
    assert header.startswith("<")
    assert header.endswith(">")
    one_click = urlsplit(header[1:-1])
    assert one_click.scheme in ("http", "https")
    assert one_click.path == "/v1/unsubscribe"
    text = text_of(mail)
    assert "/unsubscribe?token=" in text
    [preferences_link] = [line.strip() for line in text.splitlines() if "/preferences?token=" in line]

    for _ in range(2):  # no login; unsubscribing twice is fine
        unsubscribed = await storefront.unsubscribe_one_click(_token(header[1:-1]))
        assert unsubscribed.status_code == 200, unsubscribed.text
        assert unsubscribed.json() == {"email": address, "category": "waitlist", "subscribed": False}

    second = await _wait_for_back_in_stock(gateway, address)

    async def suppressed() -> None:
        items = await _notifications_of(stack, f"waitlist:{second}")
        assert [(item["status"], item["suppressed_reason"]) for item in items] == [
            ("suppressed", "unsubscribed from waitlist")
        ]

    await eventually(suppressed, timeout=20)

    # Transactional email is always sent: the order confirmation arrives.
    sku = new_sku("PREF")
    await product_in_stock(gateway, sku=sku, units=2)
    placed = await place_order(gateway, checkout(sku, email=address, locale="en"))
    assert placed.status_code == 202, placed.text
    await wait_for_status(gateway, placed.json(), "confirmed")

    async def confirmed() -> None:
        confirmations = [m for m in emails_to(mail_dir, address) if m["X-Shop-Template"] == "order_confirmed"]
        assert len(confirmations) == 1
        assert confirmations[0]["List-Unsubscribe"] is None

    await eventually(confirmed, timeout=20)
    assert len(_waitlist_mails(mail_dir, address)) == 1  # the suppressed one never arrived

    token = _token(preferences_link)
    shown = await storefront.preferences(token)
    assert shown.status_code == 200, shown.text
    assert shown.json() == {
        "email": address,
        "transactional": True,
        "preorder_updates": True,
        "waitlist": False,
        "marketing": False,
    }
    changed = await storefront.change_preferences(
        token, {"preorder_updates": False, "waitlist": True, "marketing": False}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["preorder_updates"], changed.json()["waitlist"]) == (False, True)
    assert (await storefront.preferences(token)).json() == changed.json()

    always = await storefront.change_preferences(
        token, {"preorder_updates": True, "waitlist": True, "marketing": False, "transactional": False}
    )
    assert always.status_code == 422
    assert "always sent" in always.text


async def test_a_bad_token_is_a_problem_that_says_what_is_wrong(gateway: httpx.AsyncClient) -> None:
    storefront = Storefront(gateway)
    for answer, status, code in [
        (await storefront.unsubscribe_one_click("not-a-token"), 400, "malformed_token"),
        (await storefront.preferences("e30.1800000000.00ff"), 401, "invalid_token"),
        (await gateway.post("/v1/unsubscribe"), 422, None),
    ]:
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"]
        if code is not None:
            assert answer.json()["code"] == code

    other_form = await gateway.post(
        "/v1/unsubscribe",
        params={"token": "e30.1800000000.00ff"},
        content=b"List-Unsubscribe=Everything",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert other_form.status_code == 400
    assert other_form.json()["code"] == "not_one_click"
