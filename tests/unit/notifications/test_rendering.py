"""Every email renders in Korean and English from its templates, and is composed as a proper MIME message."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from shop_notifications.domain import (
    Locale,
    Money,
    OrderLine,
    OutgoingEmail,
    Recipient,
    ShippingAddress,
    order_confirmed_email,
    order_delivered_email,
    order_rejected_email,
    order_shipped_email,
)
from shop_notifications.rendering import render_email
from shop_notifications.smtp import ORDER_ID_HEADER, compose

ADDRESS = ShippingAddress(
    name="김민지", line1="테헤란로 152", city="강남구", region="서울특별시", postal_code="06236", country="KR"
)


def _confirmed(locale: Locale, currency: str = "KRW") -> OutgoingEmail:
    draft = order_confirmed_email(
        order_id="ord-1",
        recipient=Recipient(email="minji@example.com", locale=locale),
        lines=[
            OrderLine(
                sku="TEE-M",
                title="Launch Tee",
                quantity=2,
                unit_price=Money(18000, currency),
                line_total=Money(36000, currency),
            )
        ],
        subtotal=Money(36000, currency),
        shipping=Money(3000, currency),
        total=Money(39000, currency),
        shipping_address=ADDRESS,
    )
    rendered = render_email(draft)
    return OutgoingEmail(
        notification_id="n-1",
        order_id="ord-1",
        template=draft.template,
        recipient="minji@example.com",
        locale=locale,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
    )


def test_order_confirmed_in_korean_lists_lines_totals_and_address() -> None:
    rendered = _confirmed("ko")
    assert rendered.subject == "[Shop] 주문이 확인되었습니다 (주문번호 ord-1)"
    assert "Launch Tee (TEE-M) x 2: 36,000원" in rendered.text
    assert "배송비: 3,000원" in rendered.text
    assert "총 결제 금액: 39,000원" in rendered.text
    assert "(06236) 서울특별시 강남구 테헤란로 152" in rendered.text
    assert "{{" not in rendered.text


def test_order_confirmed_in_english_uses_the_currency_sign() -> None:
    rendered = _confirmed("en")
    assert rendered.subject == "[Shop] Your order ord-1 is confirmed"
    assert "Total: ₩39,000" in rendered.text
    usd = _confirmed("en", "USD")
    assert "Total: $390.00" in usd.text


@pytest.mark.parametrize(
    ("locale", "reason", "says"),
    [
        ("ko", "out_of_stock", ["재고가 부족", "청구된 금액은 없습니다"]),
        ("ko", "payment_declined", ["승인이 거절", "결제는 이루어지지 않았습니다"]),
        ("en", "out_of_stock", ["no longer available", "Nothing was charged"]),
        ("en", "payment_declined", ["payment was declined", "The charge was not taken"]),
    ],
)
def test_order_rejected_explains_why_and_that_nothing_was_charged(
    locale: Locale, reason: str, says: list[str]
) -> None:
    draft = order_rejected_email(
        order_id="ord-2",
        recipient=Recipient(email="a@example.com", locale=locale),
        reason="out_of_stock" if reason == "out_of_stock" else "payment_declined",
    )
    rendered = render_email(draft)
    assert "ord-2" in rendered.subject
    for phrase in says:
        assert phrase in rendered.text


@pytest.mark.parametrize(
    ("locale", "label"), [("ko", "운송장 번호: 1234-5678"), ("en", "Tracking number: 1234-5678")]
)
def test_order_shipped_gives_carrier_and_tracking_number(locale: Locale, label: str) -> None:
    draft = order_shipped_email(
        order_id="ord-3",
        recipient=Recipient(email="a@example.com", locale=locale),
        carrier="CJ Logistics",
        tracking_number="1234-5678",
    )
    rendered = render_email(draft)
    assert label in rendered.text
    assert "CJ Logistics" in rendered.text


@pytest.mark.parametrize(("locale", "phrase"), [("ko", "배송 완료"), ("en", "was delivered")])
def test_order_delivered_renders_in_both_languages(locale: Locale, phrase: str) -> None:
    rendered = render_email(
        order_delivered_email(order_id="ord-4", recipient=Recipient(email="a@example.com", locale=locale))
    )
    assert phrase in rendered.subject
    assert phrase in rendered.text


def test_the_html_alternative_escapes_what_the_text_contains() -> None:
    draft = order_shipped_email(
        order_id="ord-5",
        recipient=Recipient(email="a@example.com", locale="en"),
        carrier="<script>alert(1)</script>",
        tracking_number="T1",
    )
    rendered = render_email(draft)
    assert rendered.html is not None
    assert '<html lang="en">' in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "<script>" not in rendered.html


def test_a_composed_message_survives_the_wire_with_its_korean_subject_and_body() -> None:
    outgoing = _confirmed("ko")
    raw = compose(outgoing, sender="Shop <orders@shop.example>").as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == outgoing.subject
    assert parsed[ORDER_ID_HEADER] == "ord-1"
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert "총 결제 금액: 39,000원" in plain.get_content()
