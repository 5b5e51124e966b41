"""The reminder before a deferred balance charge: amount, date and the link to change the card, ko and en."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shop_contracts.money import Money
from shop_notifications.domain import Locale, Recipient
from shop_notifications.emails import order_balance_reminder_email
from shop_notifications.rendering import render_email

CHARGE_AT = datetime(2027, 1, 19, 16, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("locale", "subject", "says"),
    [
        (
            "ko",
            "2027년 1월 20일에 결제됩니다",
            ["40,000원", "2027년 1월 20일 01:30(한국 시간)", "결제 수단을 변경"],
        ),
        (
            "en",
            "charged on January 19, 2027",
            ["₩40,000", "January 19, 2027 at 16:30 (UTC)", "update your payment"],
        ),
    ],
)
def test_a_reminder_of_a_charge_at_a_time_says_what_when_in_the_customers_zone_and_where(
    locale: Locale, subject: str, says: list[str]
) -> None:
    rendered = render_email(
        order_balance_reminder_email(
            order_id="ord-9",
            recipient=Recipient(email="a@example.com", locale=locale),
            amount=Money(40000, "KRW"),
            charge_at=CHARGE_AT,
            storefront_url="https://shop.test",
        )
    )
    assert subject in rendered.subject
    for phrase in [*says, "https://shop.test/orders/ord-9/payment"]:
        assert phrase in rendered.text
    assert rendered.html is not None
    assert '<a href="https://shop.test/orders/ord-9/payment">' in rendered.html


@pytest.mark.parametrize(
    ("locale", "says"),
    [("ko", ["2027년 1월 20일에 준비될 예정", "$12.50"]), ("en", ["expected to be ready", "$12.50"])],
)
def test_a_reminder_of_a_charge_when_the_goods_are_ready_gives_the_expected_day_not_a_time(
    locale: Locale, says: list[str]
) -> None:
    rendered = render_email(
        order_balance_reminder_email(
            order_id="ord-10",
            recipient=Recipient(email="a@example.com", locale=locale),
            amount=Money(1250, "USD"),
            charge_at=CHARGE_AT,
            storefront_url="https://shop.test",
            when_ready=True,
        )
    )
    for phrase in says:
        assert phrase in rendered.text, rendered.text
    assert "16:30" not in rendered.text
    assert "01:30" not in rendered.text
