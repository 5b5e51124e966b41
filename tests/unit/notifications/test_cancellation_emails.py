"""The cancellation email tries to keep the sale: it answers the customer's reason in Korean and English, links
the page its offer names (size guide, similar products) and a feedback form; a code is an offer, so it comes in
its own email in the marketing category; the shop's own cancellations only say why."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shop_contracts.money import Money
from shop_notifications.cancellation_words import WIN_BACK_ANSWERS
from shop_notifications.domain import (
    MARKETING,
    Locale,
    Recipient,
    WinBackOffer,
    category_of,
    suppression_reason,
)
from shop_notifications.emails import order_cancelled_email, win_back_offer_email
from shop_notifications.rendering import render_email

STOREFRONT = "https://shop.example"
UNTIL = datetime(2026, 12, 25, 3, tzinfo=UTC)
PERCENT = WinBackOffer(kind="percent", code="BACK-1A2B3C", percent_off=10, expires_at=UNTIL)
SIZE_GUIDE = WinBackOffer(kind="link", link="size_guide")
TOKEN = "1796000000." + "ab" * 32


def _render(locale: Locale, reason: str, **extra: object) -> str:
    values: dict[str, object] = {"feedback_token": TOKEN, **extra}
    draft = order_cancelled_email(
        order_id="ord-7",
        recipient=Recipient(email="minji@example.com", locale=locale),
        reason=reason,
        refund=Money(81000, "KRW"),
        storefront_url=STOREFRONT,
        cancelled_by="customer",
        **values,  # type: ignore[arg-type]
    )
    return render_email(draft).text


def _offer_email(locale: Locale, offer: WinBackOffer) -> tuple[str, str]:
    draft = win_back_offer_email(
        order_id="ord-7", recipient=Recipient(email="minji@example.com", locale=locale), offer=offer
    )
    rendered = render_email(draft)
    return rendered.subject, rendered.text


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
def test_each_reason_gets_its_answer_and_a_signed_feedback_link_in_both_languages(
    reason: str, en: str, ko: str
) -> None:
    english, korean = _render("en", reason), _render("ko", reason)
    assert en in english
    assert ko in korean
    for text in (english, korean):
        assert f"{STOREFRONT}/feedback?order=ord-7&reason={reason}&token={TOKEN}" in text


def test_without_a_token_there_is_no_feedback_link() -> None:
    assert "/feedback" not in _render("en", "other", feedback_token=None)


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


def test_a_link_offer_links_its_page_in_the_cancellation_email() -> None:
    assert f"{STOREFRONT}/size-guide" in _render("en", "changed_mind", offer=SIZE_GUIDE)
    assert "사이즈 가이드: https://shop.example/size-guide" in _render("ko", "changed_mind", offer=SIZE_GUIDE)
    similar = WinBackOffer(kind="link", link="similar_products", skus=("TEE-M", "CAP"))
    assert f"{STOREFRONT}/similar?sku=TEE-M&sku=CAP" in _render("en", "delivery_time", offer=similar)
    assert "비슷한" in _render("ko", "delivery_time", offer=similar)
    assert "/size-guide" not in _render("en", "payment_method")


def test_a_code_is_not_in_the_cancellation_email_which_always_goes() -> None:
    assert "BACK-" not in _render("en", "other", offer=PERCENT)
    assert "BACK-" not in _render("ko", "other", offer=PERCENT)
    assert category_of("order_cancelled") == "transactional"


@pytest.mark.parametrize(
    ("offer", "locale", "says"),
    [
        (PERCENT, "en", "10% off the items of your next order"),
        (PERCENT, "ko", "10% 할인"),
        (
            WinBackOffer(kind="fixed_amount", code="BACK-F", amount_off=Money(5000, "KRW"), expires_at=UNTIL),
            "ko",
            "5,000원을 할인",
        ),
        (
            WinBackOffer(kind="fixed_amount", code="BACK-F", amount_off=Money(500, "USD"), expires_at=UNTIL),
            "en",
            "$5.00 off",
        ),
        (WinBackOffer(kind="free_shipping", code="BACK-S", expires_at=UNTIL), "en", "ships free"),
        (WinBackOffer(kind="free_shipping", code="BACK-S", expires_at=UNTIL), "ko", "배송비가 무료"),
    ],
)
def test_the_offer_email_says_what_the_code_takes_off_and_until_when(
    offer: WinBackOffer, locale: Locale, says: str
) -> None:
    subject, text = _offer_email(locale, offer)
    assert "ord-7" in subject
    assert offer.code is not None
    assert offer.code in text
    assert says in text
    assert "2026" in text


def test_the_offer_email_is_marketing_and_waits_for_consent() -> None:
    assert category_of("win_back_offer") == MARKETING
    assert suppression_reason(MARKETING, None) == "no consent to marketing"
    assert suppression_reason(MARKETING, True) is None


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
            offer=SIZE_GUIDE,
            feedback_token=TOKEN,
        )
    ).text
    assert "could not find the items" in text
    assert "feedback" not in text
    assert "size-guide" not in text


def test_money_only_held_on_the_card_is_released_not_refunded_in_both_languages() -> None:
    en = _render("en", "changed_mind", held=True)
    ko = _render("ko", "changed_mind", held=True)
    assert "₩81,000 held on your card for it is released: you are not charged it" in en
    assert "refunding" not in en
    assert "승인이 취소됩니다" in ko
    assert "환불해 드립니다" not in ko
    assert "We are refunding ₩81,000" in _render("en", "changed_mind")


@pytest.mark.parametrize(
    ("locale", "words"), [("en", "could not be kept for you"), ("ko", "재고를 확보하지 못했습니다")]
)
def test_an_order_whose_stock_was_lost_after_payment_says_why_in_both_languages(
    locale: Locale, words: str
) -> None:
    text = render_email(
        order_cancelled_email(
            order_id="ord-8",
            recipient=Recipient(email="minji@example.com", locale=locale),
            reason="stock_unavailable",
            refund=Money(10000, "KRW"),
            storefront_url=STOREFRONT,
            offer=None,
            feedback_token=TOKEN,
        )
    ).text
    assert words in text
    assert "feedback" not in text
