"""The changed-ship-date email, in Korean and English: the new date, whether an answer is needed, the link."""

from __future__ import annotations

from datetime import date

import pytest

from shop_contracts.money import Money
from shop_notifications.domain import Locale, Recipient
from shop_notifications.emails import order_cancelled_email, preorder_date_changed_email
from shop_notifications.rendering import render_email

STOREFRONT = "https://shop.example"


def _render(locale: Locale, *, consent_required: bool) -> tuple[str, str]:
    rendered = render_email(
        preorder_date_changed_email(
            order_id="ord-7",
            recipient=Recipient(email="a@example.com", locale=locale),
            title="Launch jacket",
            previous_date=date(2027, 1, 10),
            expected_ship_date=date(2027, 2, 20),
            promised_date=date(2027, 1, 31),
            consent_required=consent_required,
            decision_token="tok/en+1",
            storefront_url=STOREFRONT,
        )
    )
    return rendered.subject, rendered.text


@pytest.mark.parametrize(
    ("locale", "new_date", "promise", "asks"),
    [
        ("en", "February 20, 2027", "January 31, 2027", "need your answer"),
        ("ko", "2027년 2월 20일", "2027년 1월 31일", "답변이 필요합니다"),
    ],
)
def test_a_date_past_the_promise_asks_to_accept_or_cancel_with_a_full_refund(
    locale: Locale, new_date: str, promise: str, asks: str
) -> None:
    subject, text = _render(locale, consent_required=True)
    assert new_date in subject
    assert new_date in text
    assert promise in text
    assert asks in text
    # The link lands on a storefront page (which POSTs the choice); the token is escaped for the URL.
    assert f"{STOREFRONT}/orders/ord-7/preorder-decision?token=tok%2Fen%2B1" in text


@pytest.mark.parametrize(("locale", "asks"), [("en", "need your answer"), ("ko", "답변이 필요")])
def test_a_date_within_the_promise_asks_nothing_but_still_offers_to_cancel(locale: Locale, asks: str) -> None:
    subject, text = _render(locale, consent_required=False)
    assert asks not in text
    assert asks not in subject
    assert "preorder-decision?token=" in text


@pytest.mark.parametrize(
    ("locale", "words"),
    [("en", "could not ship your pre-order by the date we promised"), ("ko", "약속드린 날짜까지")],
)
def test_a_broken_promise_is_said_in_the_cancellation_email(locale: Locale, words: str) -> None:
    draft = order_cancelled_email(
        order_id="ord-7",
        recipient=Recipient(email="a@example.com", locale=locale),
        reason="preorder_promise_broken",
        refund=Money(18000, "KRW"),
    )
    assert words in render_email(draft).text
