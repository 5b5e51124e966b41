"""Win-back after a cancellation, as rules and through checkout's handler: offers per reason (a percent, an amount
per currency, free shipping, a link), codes that only their customer may use, the feedback link's token, and when
a cancellation counts as saved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from shop_api.orders.checkout import CANCELLATION_REASONS
from shop_contracts.money import Money
from shop_notifications.cancellation_words import WIN_BACK_ANSWERS
from shop_orders.cancellation.domain import (
    FeedbackTokenRefused,
    WinBack,
    WinBackCode,
    WinBackOffer,
    check_feedback_token,
    code_terms,
    feedback_token,
    told_offer,
    win_back_outcome,
)
from shop_orders.core.domain import access_token, decision_token
from shop_orders.core.errors import DiscountCodeNotYours, DiscountCodeUsed
from shop_orders.core.pricing import CodeTerms, check_discount_code, discount_for
from shop_orders.settings import OrdersSettings, WinBackOfferSetting
from tests.unit.orders.fakes import NOW
from tests.unit.orders.test_checkout_handlers import a_checkout, place, shop

SECRET = "a-secret-for-feedback-tokens"
LATER = NOW + timedelta(days=30)


def KRW(amount: int) -> Money:
    return Money(amount, "KRW")


def test_every_default_offer_is_for_a_cancellation_reason_and_the_email_answers_every_reason() -> None:
    assert set(OrdersSettings().win_back_offers) <= set(CANCELLATION_REASONS)
    assert set(CANCELLATION_REASONS) == set(WIN_BACK_ANSWERS)


@pytest.mark.parametrize(
    "broken",
    [
        {"kind": "percent"},
        {"kind": "percent", "percent_off": 0},
        {"kind": "fixed_amount"},
        {"kind": "fixed_amount", "amount_off": {"krw": 5000}},
        {"kind": "fixed_amount", "amount_off": {"KRW": 0}},
        {"kind": "link"},
        {"kind": "link", "link": "size_guide", "percent_off": 10},
        {"kind": "free_shipping", "valid_days": 0},
    ],
)
def test_an_offer_missing_its_terms_is_refused_at_start_up(broken: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        WinBackOfferSetting.model_validate(broken)


def test_an_offer_for_a_reason_that_does_not_exist_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="no cancellation reason too_pricey"):
        OrdersSettings(win_back_offers={"too_pricey": WinBackOfferSetting(kind="free_shipping")})


def test_each_kind_of_offer_gives_its_code_in_the_orders_currency() -> None:
    assert code_terms(WinBackOffer(kind="percent", percent_off=10), currency="KRW") == (10, None, None)
    fixed = WinBackOffer(kind="fixed_amount", amount_off={"KRW": 5000, "USD": 500})
    assert code_terms(fixed, currency="USD") == (None, 500, "USD")
    assert code_terms(fixed, currency="EUR") is None  # no amount named for it: no code
    assert code_terms(WinBackOffer(kind="free_shipping"), currency="KRW") == (None, None, None)
    assert code_terms(WinBackOffer(kind="link", link="size_guide"), currency="KRW") is None


def test_the_customer_is_told_the_code_as_marketing_or_the_link_as_an_answer() -> None:
    code = WinBackCode(code="BACK-1", kind="fixed_amount", expires_at=LATER, amount_off=5000, currency="KRW")
    told = told_offer(WinBackOffer(kind="fixed_amount", amount_off={"KRW": 5000}), code, skus=["TEE-M"])
    assert told is not None
    assert (told.kind, told.code, told.amount_off, told.currency, told.marketing) == (
        "fixed_amount",
        "BACK-1",
        KRW(5000),
        "KRW",
        True,
    )
    similar = told_offer(WinBackOffer(kind="link", link="similar_products"), None, skus=["TEE-M", "CAP"])
    assert similar is not None
    assert (similar.kind, similar.link, similar.skus, similar.code, similar.marketing) == (
        "link",
        "similar_products",
        ["TEE-M", "CAP"],
        None,
        False,
    )
    assert told_offer(None, None, skus=["TEE-M"]) is None


def test_a_fixed_amount_never_takes_off_more_than_the_subtotal() -> None:
    assert discount_for(subtotal=KRW(38000), amount_off=KRW(5000)) == KRW(5000)
    assert discount_for(subtotal=KRW(3000), amount_off=KRW(5000)) == KRW(3000)
    assert discount_for(subtotal=KRW(38000), percent_off=10) == KRW(3800)


@pytest.mark.parametrize(
    ("issued_to", "used_by", "yours"),
    [
        ({"issued_to_customer": "cus-1", "issued_to_email": "a@example.com"}, {"customer_id": "cus-1"}, True),
        (
            {"issued_to_customer": "cus-1", "issued_to_email": "a@example.com"},
            {"customer_id": "cus-2", "email": "a@example.com"},
            False,
        ),
        (
            {"issued_to_customer": "cus-1", "issued_to_email": "a@example.com"},
            {"email": "a@example.com"},
            False,
        ),
        ({"issued_to_email": "Ann@Example.com"}, {"email": " ann@example.com"}, True),
        ({"issued_to_email": "ann@example.com"}, {"customer_id": "cus-9", "email": "ann@example.com"}, True),
        ({"issued_to_email": "ann@example.com"}, {"email": "bo@example.com"}, False),
    ],
)
def test_a_code_is_only_for_the_customer_it_was_offered_to(
    issued_to: dict[str, str], used_by: dict[str, str], yours: bool
) -> None:
    def check() -> None:
        check_discount_code(
            code="BACK-1", redeemed_by=None, expires_at=LATER, now=NOW, **issued_to, **used_by
        )

    if yours:
        check()
    else:
        with pytest.raises(DiscountCodeNotYours) as refused:
            check()
        assert refused.value.field == "discount_code"


def test_another_customer_learns_nothing_of_a_codes_use() -> None:
    with pytest.raises(DiscountCodeNotYours):
        check_discount_code(
            code="BACK-1",
            redeemed_by="o-2",
            expires_at=LATER,
            now=NOW,
            issued_to_email="a@x.com",
            email="b@x.com",
        )
    with pytest.raises(DiscountCodeUsed):
        check_discount_code(
            code="BACK-1",
            redeemed_by="o-2",
            expires_at=LATER,
            now=NOW,
            issued_to_email="a@x.com",
            email="a@x.com",
        )


async def test_a_fixed_amount_code_comes_off_the_subtotal_for_its_customer() -> None:
    orders = shop()
    orders.codes = {"BACK-F": CodeTerms(amount_off=5000)}

    placed, _ = await place(orders, a_checkout(discount_code="BACK-F", customer_id="cus-1"))

    assert orders.redeemed_by == [("cus-1", "minsu@example.com")]
    order = orders.stored[placed.order_id]
    assert (order.subtotal, order.shipping, order.discount, order.total) == (
        KRW(38000),
        KRW(3000),
        KRW(5000),
        KRW(36000),
    )


async def test_a_free_shipping_code_zeroes_the_shipping() -> None:
    orders = shop()
    orders.codes = {"BACK-S": CodeTerms(free_shipping=True)}

    placed, _ = await place(orders, a_checkout(discount_code="BACK-S"))

    order = orders.stored[placed.order_id]
    assert (order.subtotal, order.shipping, order.discount, order.total) == (
        KRW(38000),
        KRW(0),
        KRW(0),
        KRW(38000),
    )


TOKEN = feedback_token(SECRET, "o-1", issued_at=int(NOW.timestamp()))


def test_a_feedback_token_opens_its_own_orders_feedback_until_it_expires() -> None:
    check_feedback_token(SECRET, "o-1", TOKEN, now=NOW + timedelta(days=59), valid=timedelta(days=60))


@pytest.mark.parametrize(
    ("secret", "order_id", "token", "days_later", "code"),
    [
        (SECRET, "o-2", TOKEN, 0, "invalid_token"),
        ("another-secret-entirely", "o-1", TOKEN, 0, "invalid_token"),
        (SECRET, "o-1", TOKEN[:-1] + ("0" if TOKEN[-1] != "0" else "1"), 0, "invalid_token"),
        (SECRET, "o-1", TOKEN, 61, "expired_token"),
        (SECRET, "o-1", "nonsense", 0, "malformed_token"),
        (SECRET, "o-1", TOKEN.split(".")[1], 0, "malformed_token"),
    ],
)
def test_a_feedback_token_is_refused_for_another_order_changed_or_expired(
    secret: str, order_id: str, token: str, days_later: int, code: str
) -> None:
    with pytest.raises(FeedbackTokenRefused) as refused:
        check_feedback_token(
            secret, order_id, token, now=NOW + timedelta(days=days_later), valid=timedelta(days=60)
        )
    assert refused.value.code == code


def test_the_feedback_token_is_not_the_orders_access_or_decision_token() -> None:
    for other in (access_token(SECRET, "o-1"), decision_token(SECRET, "o-1")):
        with pytest.raises(FeedbackTokenRefused):
            check_feedback_token(SECRET, "o-1", other, now=NOW, valid=timedelta(days=60))


def test_a_used_code_saves_the_cancellation_whenever_and_a_reorder_only_in_time() -> None:
    within = timedelta(days=30)
    cancelled = NOW - timedelta(days=40)
    assert (
        win_back_outcome(
            cancelled_at=cancelled, reordered_at=None, now=NOW, within=within, used_offer_code=True
        )
        is WinBack.SAVED
    )
    late = cancelled + timedelta(days=35)
    assert win_back_outcome(cancelled_at=cancelled, reordered_at=late, now=NOW, within=within) is WinBack.LOST
    in_time = cancelled + timedelta(days=2)
    assert (
        win_back_outcome(cancelled_at=cancelled, reordered_at=in_time, now=NOW, within=within)
        is WinBack.SAVED
    )
    assert win_back_outcome(cancelled_at=NOW, reordered_at=None, now=NOW, within=within) is WinBack.OPEN
