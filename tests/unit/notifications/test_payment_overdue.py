"""The reminder of an order on payment terms past its due date: the amount, the date, the invoice's link."""

from __future__ import annotations

from datetime import date

import pytest

from shop_contracts.money import Money
from shop_notifications.domain import Locale, Recipient
from shop_notifications.emails import order_payment_overdue_email
from shop_notifications.rendering import render_email


@pytest.mark.parametrize(
    ("locale", "amount", "due", "subject"),
    [
        ("en", "₩74,100", "December 25, 2026", "[Shop] Payment overdue: ₩74,100 was due December 25, 2026"),
        (
            "ko",
            "74,100원",
            "2026년 12월 25일",
            "[Shop] 결제 기한이 지났습니다: 74,100원 (2026년 12월 25일까지)",
        ),
    ],
)
def test_the_overdue_reminder_names_the_amount_the_due_date_and_the_invoice_link(
    locale: Locale, amount: str, due: str, subject: str
) -> None:
    rendered = render_email(
        order_payment_overdue_email(
            order_id="o-1",
            draft_id="d-1",
            recipient=Recipient(email="a@example.com", locale=locale),
            amount=Money(74100, "KRW"),
            due_date=date(2026, 12, 25),
            checkout_token="to/ken+1",
            storefront_url="https://shop.example",
        )
    )
    assert rendered.subject == subject
    assert amount in rendered.text
    assert due in rendered.text
    assert "o-1" in rendered.text
    assert "https://shop.example/draft-orders/d-1/invoice?token=to%2Fken%2B1" in rendered.text
