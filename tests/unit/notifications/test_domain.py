"""Money and dates per locale, addresses, payment failures, links and the retry policy of notifications' domain."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shop_contracts.money import Money, format_money
from shop_notifications.delivery import RetryPolicy
from shop_notifications.domain import (
    ChargeFailure,
    Locale,
    ShippingAddress,
    charge_failure,
    customer_time_zone,
    format_date,
    format_day_of,
)
from shop_notifications.emails import order_payment_url
from shop_notifications.settings import NotificationsSettings


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (39000, "KRW", "ko", "39,000원"),
        (39000, "KRW", "en", "₩39,000"),
        (0, "KRW", "ko", "0원"),
        (1234567, "KRW", "en", "₩1,234,567"),
        (1250, "USD", "en", "$12.50"),
        (1250, "USD", "ko", "$12.50"),
        (5, "USD", "en", "$0.05"),
        (123456789, "USD", "en", "$1,234,567.89"),
        (-1250, "USD", "en", "-$12.50"),
        (-3000, "KRW", "ko", "-3,000원"),
        (999, "EUR", "en", "€9.99"),
        (1000, "CHF", "en", "10.00 CHF"),
    ],
)
def test_money_is_written_the_way_the_customer_reads_it(
    amount: int, currency: str, locale: Locale, expected: str
) -> None:
    assert format_money(amount, currency, locale) == expected
    assert Money(amount, currency).format(locale) == expected


def test_an_address_reads_like_a_letter_in_each_language() -> None:
    address = ShippingAddress(
        name="김민지",
        line1="테헤란로 152",
        line2="12층",
        city="강남구",
        region="서울특별시",
        postal_code="06236",
        country="KR",
    )
    assert address.lines("ko") == ["김민지", "(06236) 서울특별시 강남구 테헤란로 152 12층", "KR"]
    us = ShippingAddress(
        name="Ann Lee", line1="1 Main St", city="Springfield", region="IL", postal_code="62701", country="US"
    )
    assert us.lines("en") == ["Ann Lee", "1 Main St", "Springfield, IL 62701", "US"]


def test_retries_wait_longer_each_time_and_stop_after_the_last_attempt() -> None:
    policy = RetryPolicy(max_attempts=4, base_delay=timedelta(seconds=30), max_delay=timedelta(seconds=90))
    assert policy.after_failure(attempts=1, permanent=False) == timedelta(seconds=30)
    assert policy.after_failure(attempts=2, permanent=False) == timedelta(seconds=60)
    assert policy.after_failure(attempts=3, permanent=False) == timedelta(seconds=90)
    assert policy.after_failure(attempts=4, permanent=False) is None
    assert policy.after_failure(attempts=1, permanent=True) is None


@pytest.mark.parametrize(
    ("day", "locale", "expected"),
    [
        (date(2025, 3, 14), "ko", "2025년 3월 14일"),
        (date(2025, 3, 14), "en", "March 14, 2025"),
        (date(2026, 12, 1), "ko", "2026년 12월 1일"),
        (date(2026, 12, 1), "en", "December 1, 2026"),
    ],
)
def test_a_date_is_written_the_way_the_customer_reads_it(day: date, locale: Locale, expected: str) -> None:
    assert format_date(day, locale) == expected


def test_korean_customers_read_korea_time_and_english_ones_utc() -> None:
    late_evening_utc = datetime(2025, 3, 14, 16, 0, tzinfo=UTC)  # 01:00 on the 15th in Seoul
    assert customer_time_zone("ko").utcoffset(late_evening_utc) == timedelta(hours=9)
    assert customer_time_zone("en").utcoffset(late_evening_utc) == timedelta(0)
    assert format_day_of(late_evening_utc, "ko") == "2025년 3월 15일"
    assert format_day_of(late_evening_utc, "en") == "March 14, 2025"
    seoul_morning = datetime(2025, 3, 15, 8, 0, tzinfo=timezone(timedelta(hours=9)))  # still the 14th in UTC
    assert format_day_of(seoul_morning, "ko") == "2025년 3월 15일"
    assert format_day_of(seoul_morning, "en") == "March 14, 2025"


@pytest.mark.parametrize(
    ("reason", "requires_action", "expected"),
    [
        ("insufficient_funds", False, "insufficient_funds"),
        ("card_declined", False, "card_declined"),
        ("expired_card", False, "expired_card"),
        ("invalid_token", False, "method_unusable"),
        ("authentication_required", False, "confirmation_required"),
        ("card_declined", True, "confirmation_required"),
        ("something_the_psp_invented", False, "declined"),
        ("The card was declined.", False, "declined"),
    ],
)
def test_a_failed_charge_is_explained_by_its_kind(
    reason: str, requires_action: bool, expected: ChargeFailure
) -> None:
    assert charge_failure(reason, requires_action=requires_action) == expected


def test_the_payment_link_points_at_the_order_on_the_storefront() -> None:
    assert order_payment_url("https://shop.example", "ord-1") == "https://shop.example/orders/ord-1/payment"
    assert (
        order_payment_url("https://shop.example", "a/b c") == "https://shop.example/orders/a%2Fb%20c/payment"
    )


def test_the_storefront_url_defaults_to_the_local_storefront_and_loses_a_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SHOP_NOTIFICATIONS_STOREFRONT_URL", raising=False)
    assert NotificationsSettings().storefront_url == "http://127.0.0.1:8000"
    assert (
        NotificationsSettings(storefront_url="https://shop.example/").storefront_url == "https://shop.example"
    )
    with pytest.raises(ValidationError):
        NotificationsSettings(storefront_url="shop.example")
