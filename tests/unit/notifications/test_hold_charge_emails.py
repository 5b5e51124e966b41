"""The email of a lapsed card hold that could not be charged off session: why, how much, when payments tries
again, until when, and where to replace the card, in Korean and English; later failures make earlier ones moot."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shop_contracts.money import Money
from shop_notifications.domain import Locale, Recipient, hold_charge_failed_fact
from shop_notifications.hold_charge_emails import order_hold_charge_failed_email
from shop_notifications.rendering import render_email

RETRY_AT = datetime(2026, 12, 11, 3, tzinfo=UTC)
GIVE_UP_AT = datetime(2026, 12, 20, 3, tzinfo=UTC)


def _render(locale: Locale, **changes: object) -> tuple[str, str]:
    values: dict[str, object] = {
        "reason": "card_declined",
        "requires_action": False,
        "retry_at": RETRY_AT,
        **changes,
    }
    draft = order_hold_charge_failed_email(
        order_id="ord-9",
        recipient=Recipient(email="minji@example.com", locale=locale),
        amount=Money(42000, "KRW"),
        give_up_at=GIVE_UP_AT,
        storefront_url="https://shop.example",
        **values,  # type: ignore[arg-type]
    )
    rendered = render_email(draft)
    return rendered.subject, rendered.text


@pytest.mark.parametrize(
    ("locale", "subject", "words"),
    [
        (
            "en",
            "[Shop] We could not charge your card for order ord-9",
            ["₩42,000", "your card was declined", "try again on December 11, 2026", "December 20, 2026"],
        ),
        (
            "ko",
            "[Shop] 주문 결제를 완료하지 못했습니다 (주문번호 ord-9)",
            ["42,000원", "카드 승인이 거절되었습니다", "2026년 12월 11일", "2026년 12월 20일"],
        ),
    ],
)
def test_the_customer_hears_why_how_much_when_it_is_tried_again_and_until_when(
    locale: Locale, subject: str, words: list[str]
) -> None:
    rendered_subject, text = _render(locale)
    assert rendered_subject == subject
    for word in words:
        assert word in text, text
    assert "https://shop.example/orders/ord-9/payment" in text


def test_a_charge_the_bank_wants_confirmed_asks_for_the_confirmation() -> None:
    subject, text = _render("en", reason="authentication_required", requires_action=True, retry_at=None)
    assert subject == "[Shop] Please confirm the payment for your order ord-9"
    assert "confirm this payment yourself" in text
    assert "try again on" not in text
    assert "as soon as the payment is sorted out" in text


def test_a_later_failure_makes_an_earlier_one_moot_and_a_cancellation_makes_all_moot() -> None:
    first, second = hold_charge_failed_fact("ord-9", attempt=1), hold_charge_failed_fact("ord-9", attempt=2)
    assert first.superseded_by([second.key]) == second.key
    assert second.superseded_by([first.key]) is None
    assert first.superseded_by(["order:ord-9:cancelled"]) == "order:ord-9:cancelled"
    assert hold_charge_failed_fact("ord-9", attempt=10).superseded_by([first.key]) is None
