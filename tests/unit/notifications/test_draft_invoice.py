"""The invoice email of a draft order: lines, amounts with the tax included, terms with the due date, the link."""

from __future__ import annotations

from datetime import date

import pytest

from shop_contracts.money import Money
from shop_notifications.domain import InvoiceAmounts, InvoiceLine, Locale, Recipient
from shop_notifications.emails import draft_invoice_email
from shop_notifications.rendering import render_email


def krw(amount: int) -> Money:
    return Money(amount, "KRW")


def _render(locale: Locale, *, terms: str, net_days: int | None, due: date | None) -> tuple[str, str]:
    rendered = render_email(
        draft_invoice_email(
            draft_id="d-1",
            recipient=Recipient(email="a@example.com", locale=locale),
            lines=[
                InvoiceLine(
                    title="Linen shirt", sku="TEE-1", quantity=2, discount=krw(1000), line_total=krw(77000)
                ),
                InvoiceLine(
                    title="Gift wrapping", sku=None, quantity=1, discount=krw(0), line_total=krw(2000)
                ),
            ],
            amounts=InvoiceAmounts(
                subtotal=krw(80000),
                discount=krw(8900),
                shipping=krw(3000),
                tax=krw(6736),
                tax_included=True,
                total=krw(74100),
            ),
            payment_terms=terms,
            net_days=net_days,
            due_date=due,
            checkout_token="to/ken+1",
            storefront_url="https://shop.example",
        )
    )
    return rendered.subject, rendered.text


@pytest.mark.parametrize(
    ("locale", "total", "terms_text", "due"),
    [
        ("en", "₩74,100", "net 14 days, due by December 9, 2026", "due December 9, 2026"),
        ("ko", "74,100원", "청구일로부터 14일 이내 (2026년 12월 9일까지)", "2026년 12월 9일까지"),
    ],
)
def test_the_invoice_tells_the_amounts_the_terms_and_the_link(
    locale: Locale, total: str, terms_text: str, due: str
) -> None:
    subject, text = _render(locale, terms="net", net_days=14, due=date(2026, 12, 9))
    assert total in subject
    assert due in subject
    assert total in text
    assert terms_text in text
    assert "Gift wrapping x 1" in text
    assert "https://shop.example/draft-orders/d-1/invoice?token=to%2Fken%2B1" in text


def test_due_on_receipt_has_no_due_date_in_the_subject() -> None:
    subject, text = _render("en", terms="due_on_receipt", net_days=None, due=None)
    assert subject == "[Shop] Your invoice: ₩74,100"
    assert "Payment terms: due on receipt" in text
