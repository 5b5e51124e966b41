"""Waitlist emails render in Korean and English: back in stock with the product link, pre-order open with
its closing day and expected ship date."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shop_notifications.domain import Locale, Recipient, WaitlistItem
from shop_notifications.emails import waitlist_back_in_stock_email, waitlist_preorder_open_email
from shop_notifications.rendering import render_email

STOREFRONT = "https://shop.test"
ITEM = WaitlistItem(
    sku="TEE-M", product_id="prod-1", title="Launch Tee", options={"size": "M", "colour": "Black"}
)


@pytest.mark.parametrize(
    ("locale", "subject", "says"),
    [
        ("ko", "[Shop] Launch Tee (M / Black) 상품이 재입고되었습니다", "재입고되었습니다"),
        ("en", "[Shop] Launch Tee (M / Black) is back in stock", "is back in stock"),
    ],
)
def test_back_in_stock_names_the_variant_and_links_to_the_product(
    locale: Locale, subject: str, says: str
) -> None:
    draft = waitlist_back_in_stock_email(
        entry_id="e-1", recipient=Recipient("minji@example.com", locale), item=ITEM, storefront_url=STOREFRONT
    )
    rendered = render_email(draft)
    assert draft.order_id == "waitlist:e-1"
    assert rendered.subject == subject
    assert says in rendered.text
    assert "https://shop.test/products/prod-1" in rendered.text
    assert rendered.html is not None
    assert 'href="https://shop.test/products/prod-1"' in rendered.html


@pytest.mark.parametrize(
    ("locale", "subject", "closes", "ships"),
    [
        (
            "ko",
            "[Shop] Launch Tee (M / Black) 예약 주문이 시작되었습니다",
            "예약 마감일: 2030년 3월 15일",  # 20:00 UTC on the 14th is the 15th in Korea
            "출고 예정일: 2030년 5월 1일",
        ),
        (
            "en",
            "[Shop] Pre-orders for Launch Tee (M / Black) are open",
            "Pre-orders close: March 14, 2030",
            "Expected to ship: May 1, 2030",
        ),
    ],
)
def test_pre_order_open_gives_the_window_end_and_the_ship_date(
    locale: Locale, subject: str, closes: str, ships: str
) -> None:
    draft = waitlist_preorder_open_email(
        entry_id="e-1",
        recipient=Recipient("minji@example.com", locale),
        item=ITEM,
        ends_at=datetime(2030, 3, 14, 20, 0, tzinfo=UTC),
        expected_ship_date=date(2030, 5, 1),
        storefront_url=STOREFRONT,
    )
    rendered = render_email(draft)
    assert rendered.subject == subject
    assert closes in rendered.text
    assert ships in rendered.text
    assert "https://shop.test/products/prod-1" in rendered.text


@pytest.mark.parametrize(
    ("locale", "closes", "ships"),
    [
        ("ko", "예약 마감일: 별도 안내 시까지", "출고 예정일: 정해지는 대로 알려 드리겠습니다"),
        ("en", "Pre-orders close: no closing date is set yet", "Expected to ship: we will tell you"),
    ],
)
def test_pre_order_open_without_dates_says_so(locale: Locale, closes: str, ships: str) -> None:
    draft = waitlist_preorder_open_email(
        entry_id="e-1",
        recipient=Recipient("ann@example.com", locale),
        item=WaitlistItem(sku="CUP", product_id="prod-2", title="Cup", options={}),
        ends_at=None,
        expected_ship_date=None,
        storefront_url=STOREFRONT,
    )
    rendered = render_email(draft)
    assert "Cup" in rendered.subject
    assert "()" not in rendered.subject
    assert closes in rendered.text
    assert ships in rendered.text
