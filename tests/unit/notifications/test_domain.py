"""Money per locale, addresses and the retry policy of notifications' domain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shop_notifications.domain import Locale, Money, RetryPolicy, ShippingAddress, format_money


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
