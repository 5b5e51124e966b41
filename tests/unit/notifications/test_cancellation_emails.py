"""The cancellation email tries to keep the sale: it answers the customer's reason in Korean and English, links
to a feedback form and carries the discount code staff offer; the shop's own cancellations only say why."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shop_contracts.money import Money
from shop_notifications.domain import Locale, Recipient, WinBackDiscount
from shop_notifications.emails import WIN_BACK_ANSWERS, order_cancelled_email
from shop_notifications.rendering import render_email

STOREFRONT = "https://shop.example"
CODE = WinBackDiscount(code="BACK-1A2B3C", percent_off=10, expires_at=datetime(2026, 12, 25, 3, tzinfo=UTC))


def _render(locale: Locale, reason: str, **extra: object) -> str:
    draft = order_cancelled_email(
        order_id="ord-7",
        recipient=Recipient(email="minji@example.com", locale=locale),
        reason=reason,
        refund=Money(81000, "KRW"),
        storefront_url=STOREFRONT,
        cancelled_by="customer",
        **extra,  # type: ignore[arg-type]
    )
    return render_email(draft).text


@pytest.mark.parametrize(
    ("reason", "en", "ko"),
    [
        ("shipping_cost", "charged once per order", "주문당 한 번만"),
        ("delivery_time", "express shipping", "특급 배송"),
        ("changed_mind", "size guide", "사이즈 가이드"),
        ("return_policy", "question about returns", "반품에 관한"),
        ("payment_method", "other payment method", "다른 결제 수단"),
        ("account_required", "guest checkout", "비회원 주문"),
        ("found_cheaper", "review our prices", "가격을 검토"),
        ("other", "done better", "더 잘할 수"),
    ],
)
def test_each_reason_gets_its_answer_in_both_languages(reason: str, en: str, ko: str) -> None:
    english, korean = _render("en", reason), _render("ko", reason)
    assert en in english
    assert ko in korean
    for text in (english, korean):
        assert f"{STOREFRONT}/feedback?order=ord-7&reason={reason}" in text


def test_every_customer_reason_has_an_answer_in_both_languages() -> None:
    reasons = {
        "changed_mind",
        "shipping_cost",
        "delivery_time",
        "return_policy",
        "payment_method",
        "account_required",
        "found_cheaper",
        "other",
    }
    assert set(WIN_BACK_ANSWERS) == reasons
    assert all(set(answer) == {"ko", "en"} for answer in WIN_BACK_ANSWERS.values())


def test_size_questions_link_the_size_guide() -> None:
    assert f"{STOREFRONT}/size-guide" in _render("en", "changed_mind")
    assert f"{STOREFRONT}/size-guide" not in _render("en", "payment_method")


@pytest.mark.parametrize(("locale", "says"), [("en", "10% off your next order"), ("ko", "10% 할인")])
def test_a_discount_code_is_offered_with_its_expiry(locale: Locale, says: str) -> None:
    text = _render(locale, "shipping_cost", discount=CODE)
    assert "BACK-1A2B3C" in text
    assert says in text
    assert "2026" in text


def test_without_an_offer_no_code_is_mentioned() -> None:
    assert "BACK-" not in _render("en", "shipping_cost")


def test_a_partial_cancellation_says_what_still_ships() -> None:
    assert "already shipped is on its way" in _render("en", "delivery_time", partial=True)
    assert "이미 출고된 상품은 배송 중" in _render("ko", "delivery_time", partial=True)


def test_the_shops_own_cancellation_says_why_and_asks_for_no_feedback() -> None:
    text = render_email(
        order_cancelled_email(
            order_id="ord-7",
            recipient=Recipient(email="minji@example.com", locale="en"),
            reason="short_pick",
            refund=Money(10000, "KRW"),
            storefront_url=STOREFRONT,
        )
    ).text
    assert "could not find the items" in text
    assert "feedback" not in text
