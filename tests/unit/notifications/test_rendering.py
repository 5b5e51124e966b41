"""Every email renders in Korean and English from its templates, and is composed as a proper MIME message."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, date, datetime
from email.message import EmailMessage

import pytest

from shop_contracts.money import Money
from shop_notifications.delivery import OutgoingEmail, RenderedEmail
from shop_notifications.domain import Locale, OrderLine, PreorderLine, Recipient, ShippingAddress
from shop_notifications.emails import (
    order_balance_charge_failed_email,
    order_balance_charged_email,
    order_cancelled_email,
    order_confirmed_email,
    order_delivered_email,
    order_rejected_email,
    order_shipped_email,
)
from shop_notifications.rendering import render_email
from shop_notifications.smtp import ORDER_ID_HEADER, compose, from_header

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


def _on_the_wire(outgoing: OutgoingEmail, *, eight_bit: bool = True) -> EmailMessage:
    """``outgoing`` composed for a server that takes 8-bit bodies (or not), read back as a mail client does."""
    raw = compose(outgoing, sender=from_header("Shop <orders@shop.example>"), eight_bit=eight_bit).content
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize("eight_bit", [True, False], ids=["8bitmime", "7bit-server"])
def test_a_composed_message_survives_the_wire_with_its_korean_subject_and_body(eight_bit: bool) -> None:
    outgoing = _confirmed("ko")
    parsed = _on_the_wire(outgoing, eight_bit=eight_bit)
    assert parsed["Subject"] == outgoing.subject
    assert parsed[ORDER_ID_HEADER] == "ord-1"
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert "총 결제 금액: 39,000원" in plain.get_content()


def test_every_try_of_an_email_carries_the_same_message_id() -> None:
    """An email sent again after a crash (sent, not yet recorded) is then one message to mail systems that
    drop a Message-ID they already delivered."""
    outgoing = _confirmed("en")
    first, again = (_on_the_wire(outgoing) for _ in range(2))
    assert first["Message-ID"] == again["Message-ID"] == f"<{outgoing.notification_id}@shop.example>"


def test_a_long_korean_subject_keeps_every_space_on_the_wire() -> None:
    subject = (
        "[Shop] 예약 주문의 출고 예정일이 변경되었습니다 (주문번호 eac46e94-657b-4364-9297-33265d930d33)"
    )
    outgoing = replace(_confirmed("ko"), subject=subject)
    parsed = _on_the_wire(outgoing)
    assert parsed["Subject"] == subject


# 16:00 UTC on 14 March is 01:00 on 15 March in Seoul: Korean emails give the 15th, English ones the 14th.
LATE_EVENING_UTC = datetime(2025, 3, 14, 16, 0, tzinfo=UTC)


def _preorder_confirmed(locale: Locale, currency: str, *, charged_now: int) -> RenderedEmail:
    """An order of an in-stock tee, a camera on deposit, a lens paid later and a bag paid in full up front."""

    def money(amount: int) -> Money:
        return Money(amount, currency)

    return render_email(
        order_confirmed_email(
            order_id="ord-pre",
            recipient=Recipient(email="minji@example.com", locale=locale),
            lines=[
                OrderLine("TEE-M", "Launch Tee", 1, money(18000), money(18000)),
                OrderLine("CAM-1", "Camera", 2, money(500000), money(1000000)),
                OrderLine("LENS-1", "Lens", 1, money(90000), money(90000)),
                OrderLine("BAG-1", "Bag", 1, money(40000), money(40000)),
            ],
            subtotal=money(1148000),
            shipping=money(3000),
            total=money(1151000),
            shipping_address=ADDRESS,
            charged_now=money(charged_now),
            preorder_lines=[
                PreorderLine(
                    sku="CAM-1",
                    title="Camera",
                    quantity=2,
                    payment_mode="deposit",
                    paid_now=money(300000),
                    balance=money(700000),
                    balance_charged_at=LATE_EVENING_UTC,
                    expected_ship_date=date(2025, 4, 1),
                    queue_position=3,
                ),
                PreorderLine(
                    sku="LENS-1",
                    title="Lens",
                    quantity=1,
                    payment_mode="pay_later",
                    paid_now=money(0),
                    balance=money(90000),
                ),
                PreorderLine(
                    sku="BAG-1",
                    title="Bag",
                    quantity=1,
                    payment_mode="pay_now",
                    paid_now=money(40000),
                    balance=money(0),
                    expected_ship_date=date(2025, 5, 2),
                ),
            ],
        )
    )


def _section(text: str, starts: str, ends: str) -> str:
    """The text from ``starts`` up to the next ``ends`` after it."""
    start = text.index(starts)
    return text[start : text.index(ends, start)]


def test_a_korean_pre_order_confirmation_says_what_is_paid_now_and_what_later_in_korea_time() -> None:
    rendered = _preorder_confirmed("ko", "KRW", charged_now=361000)
    text = rendered.text
    assert rendered.subject == "[Shop] 주문이 확인되었습니다 (주문번호 ord-pre)"
    assert "총 주문 금액: 1,151,000원\n이번에 결제된 금액: 361,000원\n" in text
    camera = _section(text, "- Camera (CAM-1) x 2\n", "- Lens")
    assert camera.splitlines()[1:] == [
        "  결제된 예약금: 300,000원",
        "  남은 잔금: 700,000원",
        "  잔금 결제 시점: 2025년 3월 15일",
        "  출고 예정일: 2025년 4월 1일",
        "  예약 순번: 3번",
    ]
    lens = _section(text, "- Lens (LENS-1) x 1\n", "- Bag")
    assert lens.splitlines()[1:] == [
        "  지금 결제된 금액: 없음",
        "  남은 잔금: 90,000원",
        "  잔금 결제 시점: 상품 출고 준비가 완료되면",
        "  출고 예정일: 정해지는 대로 알려 드리겠습니다",
    ]
    bag = _section(text, "- Bag (BAG-1) x 1\n", "배송지")
    assert bag.splitlines()[1:] == ["  전액 결제 완료: 40,000원", "  출고 예정일: 2025년 5월 2일", ""]
    assert "{{" not in text


def test_an_english_pre_order_confirmation_gives_cents_and_utc_dates() -> None:
    text = _preorder_confirmed("en", "USD", charged_now=361000).text
    assert "Total: $11,510.00\nCharged now: $3,610.00\n" in text
    camera = _section(text, "- Camera (CAM-1) x 2\n", "- Lens")
    assert camera.splitlines()[1:] == [
        "  Deposit paid now: $3,000.00",
        "  Balance to pay: $7,000.00",
        "  We will charge the balance on March 14, 2025",
        "  Expected to ship: April 1, 2025",
        "  Your place in the queue: 3",
    ]
    lens = _section(text, "- Lens (LENS-1) x 1\n", "- Bag")
    assert lens.splitlines()[1:] == [
        "  Paid now: nothing",
        "  Balance to pay: $900.00",
        "  We will charge the balance when your item is ready to ship",
        "  Expected to ship: we will tell you the date",
    ]
    assert "  Paid in full now: $400.00\n  Expected to ship: May 2, 2025\n" in text
    assert "We have received your payment" in text


@pytest.mark.parametrize(
    ("locale", "says", "does_not_say"),
    [
        ("ko", "아직 결제된 금액은 없습니다", "결제가 확인되어"),
        ("en", "nothing has been charged yet", "We have received your payment"),
    ],
)
def test_a_confirmation_that_charged_nothing_does_not_thank_for_a_payment(
    locale: Locale, says: str, does_not_say: str
) -> None:
    text = _preorder_confirmed(locale, "KRW", charged_now=0).text
    assert says in text
    assert does_not_say not in text


def test_an_in_stock_confirmation_has_no_pre_order_section_and_no_charged_now() -> None:
    for locale in ("ko", "en"):
        text = _confirmed(locale).text
        assert "예약" not in text
        assert "Pre-order" not in text
        assert "Charged now" not in text


@pytest.mark.parametrize(
    ("locale", "currency", "subject", "says"),
    [
        (
            "ko",
            "KRW",
            "[Shop] 예약 주문 잔금이 결제되었습니다 (주문번호 ord-bal)",
            ["예약 주문 잔금(700,000원)을 결제했습니다", "출고 예정일: 2025년 4월 1일"],
        ),
        (
            "en",
            "USD",
            "[Shop] We charged the balance of your pre-order (order ord-bal)",
            ["remaining balance of $7,000.00", "Expected to ship: April 1, 2025"],
        ),
    ],
)
def test_a_charged_balance_gives_the_amount_and_the_expected_ship_date(
    locale: Locale, currency: str, subject: str, says: list[str]
) -> None:
    rendered = render_email(
        order_balance_charged_email(
            order_id="ord-bal",
            recipient=Recipient(email="a@example.com", locale=locale),
            amount=Money(700000, currency),
            expected_ship_date=date(2025, 4, 1),
        )
    )
    assert rendered.subject == subject
    for phrase in says:
        assert phrase in rendered.text


@pytest.mark.parametrize(
    ("locale", "says"),
    [
        ("ko", "출고 예정일: 정해지는 대로 알려 드리겠습니다"),
        ("en", "Expected to ship: we will tell you the date"),
    ],
)
def test_a_charged_balance_without_a_date_promises_to_tell_it(locale: Locale, says: str) -> None:
    rendered = render_email(
        order_balance_charged_email(
            order_id="ord-bal",
            recipient=Recipient(email="a@example.com", locale=locale),
            amount=Money(700000, "KRW"),
            expected_ship_date=None,
        )
    )
    assert says in rendered.text


def _charge_failed(
    locale: Locale, currency: str, *, reason: str, requires_action: bool, retry_at: datetime | None
) -> RenderedEmail:
    return render_email(
        order_balance_charge_failed_email(
            order_id="ord-fail",
            recipient=Recipient(email="a@example.com", locale=locale),
            amount=Money(700000, currency),
            reason=reason,
            requires_action=requires_action,
            retry_at=retry_at,
            storefront_url="https://shop.example",
        )
    )


@pytest.mark.parametrize(
    ("locale", "currency", "says"),
    [
        (
            "ko",
            "KRW",
            [
                "[Shop] 예약 주문 잔금을 결제하지 못했습니다 (주문번호 ord-fail)",
                "예약 주문 잔금(700,000원)을 결제하려 했으나",
                "사유: 카드 잔액(한도)이 부족합니다.",
                "아래 링크에서 결제 수단을 변경해 주세요.\nhttps://shop.example/orders/ord-fail/payment\n",
                "2025년 3월 15일에 다시 결제를 시도하겠습니다.",
            ],
        ),
        (
            "en",
            "USD",
            [
                "[Shop] We could not charge the balance of your pre-order (order ord-fail)",
                "remaining balance of $7,000.00",
                "Why: there were not enough funds on your card.",
                "Please update your payment method here:\nhttps://shop.example/orders/ord-fail/payment\n",
                "we will try again on March 14, 2025.",
            ],
        ),
    ],
)
def test_a_declined_balance_says_why_when_it_is_retried_and_where_to_update_the_method(
    locale: Locale, currency: str, says: list[str]
) -> None:
    rendered = _charge_failed(
        locale, currency, reason="insufficient_funds", requires_action=False, retry_at=LATE_EVENING_UTC
    )
    for phrase in says:
        assert phrase in f"{rendered.subject}\n{rendered.text}"
    assert rendered.html is not None
    assert (
        '<a href="https://shop.example/orders/ord-fail/payment">https://shop.example/orders/ord-fail/payment</a>'
        in rendered.html
    )


@pytest.mark.parametrize(
    ("locale", "says", "does_not_say"),
    [
        (
            "ko",
            [
                "[Shop] 예약 주문 잔금 결제를 승인해 주세요 (주문번호 ord-fail)",
                "사유: 카드사에서 고객님의 결제 승인을 요청했습니다.",
                "아래 링크에서 결제를 승인해 주세요.\nhttps://shop.example/orders/ord-fail/payment\n",
                "결제 수단 문제가 해결되는 대로",
            ],
            ["결제 수단을 변경해 주세요", "다시 결제를 시도하겠습니다"],
        ),
        (
            "en",
            [
                "[Shop] Please confirm the payment for your pre-order (order ord-fail)",
                "Why: your bank needs you to confirm this payment yourself.",
                "Please confirm the payment here:\nhttps://shop.example/orders/ord-fail/payment\n",
                "we will charge the balance once the payment is sorted out",
            ],
            ["update your payment method", "try again on"],
        ),
    ],
)
def test_a_balance_that_needs_confirming_links_to_confirm_the_payment(
    locale: Locale, says: list[str], does_not_say: list[str]
) -> None:
    rendered = _charge_failed(
        locale, "KRW", reason="authentication_required", requires_action=True, retry_at=None
    )
    whole = f"{rendered.subject}\n{rendered.text}"
    for phrase in says:
        assert phrase in whole
    for phrase in does_not_say:
        assert phrase not in whole


@pytest.mark.parametrize(
    ("locale", "says"),
    [("ko", "사유: 카드사에서 결제를 거절했습니다."), ("en", "Why: your bank declined the payment.")],
)
def test_an_unknown_decline_reason_is_still_said_in_plain_words(locale: Locale, says: str) -> None:
    rendered = _charge_failed(locale, "KRW", reason="do_not_honor_51", requires_action=False, retry_at=None)
    assert says in rendered.text
    assert "do_not_honor_51" not in rendered.text


@pytest.mark.parametrize(
    ("locale", "refund", "reason_words"),
    [
        ("ko", "63,000원", "결제 기한까지"),
        ("en", "₩63,000", "could not be charged before the payment deadline"),
    ],
)
def test_a_cancellation_by_the_shop_says_why_and_what_is_refunded(
    locale: Locale, refund: str, reason_words: str
) -> None:
    rendered = render_email(
        order_cancelled_email(
            order_id="ord-9",
            recipient=Recipient(email="minji@example.com", locale=locale),
            reason="balance_unpaid",
            refund=Money(63000, "KRW"),
        )
    )
    assert "ord-9" in rendered.subject
    assert refund in rendered.text
    assert reason_words in rendered.text


def test_a_customers_own_cancellation_with_nothing_to_refund_says_so() -> None:
    rendered = render_email(
        order_cancelled_email(
            order_id="ord-9",
            recipient=Recipient(email="minji@example.com", locale="en"),
            reason="changed_mind",
            refund=Money(0, "USD"),
        )
    )
    assert "Nothing was charged that needs refunding" in rendered.text
    assert "because" not in rendered.text
