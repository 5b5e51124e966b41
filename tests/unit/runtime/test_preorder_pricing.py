"""Pre-order money and windows: rounding, deposits, early-bird tiers and their boundaries, windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shop_contracts.values import EarlyBirdTier, PreorderPolicy
from shop_runtime.preorder_pricing import (
    balance_due_at,
    campaign_id,
    discounted_unit_price,
    early_bird,
    percent_of,
    split_line,
    window_state,
)

START = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [(39000, 30, 11700), (3333, 50, 1667), (2950, 25, 738), (2950, 10, 295), (1, 50, 1), (1, 49, 0)],
)
def test_a_percentage_is_rounded_half_up_to_a_whole_minor_unit(
    amount: int, percent: int, expected: int
) -> None:
    assert percent_of(amount, percent) == expected


def test_a_deposit_and_its_balance_add_up_to_the_line_in_krw_and_usd() -> None:
    policy = PreorderPolicy(payment_mode="deposit", deposit_percent=30)
    krw = split_line(policy, line_total=3 * 39000, quantity=3, currency="KRW")
    assert (krw.now, krw.later) == (35100, 81900)
    usd = split_line(policy, line_total=3 * 2995, quantity=3, currency="USD")  # 8985 cents: 2695.5 rounds up
    assert (usd.now, usd.later) == (2696, 6289)
    assert usd.now + usd.later == 8985


def test_a_fixed_deposit_is_per_unit_and_never_more_than_the_line() -> None:
    policy = PreorderPolicy(payment_mode="deposit", deposit_amounts={"KRW": 10000})
    assert split_line(policy, line_total=78000, quantity=2, currency="KRW").now == 20000
    assert split_line(policy, line_total=5000, quantity=1, currency="KRW").now == 5000


def test_pay_now_and_pay_later_split_the_whole_line_one_way() -> None:
    assert (
        split_line(PreorderPolicy(payment_mode="pay_now"), line_total=100, quantity=1, currency="USD").later
        == 0
    )
    assert (
        split_line(PreorderPolicy(payment_mode="pay_later"), line_total=100, quantity=1, currency="USD").now
        == 0
    )


def test_early_bird_tiers_change_at_their_day_boundaries() -> None:
    policy = PreorderPolicy(
        payment_mode="pay_now",
        starts_at=START,
        early_bird_tiers=[
            EarlyBirdTier(until_day=7, percent_off=25),
            EarlyBirdTier(until_day=10, percent_off=15),
            EarlyBirdTier(percent_off=5),
        ],
    )
    first = early_bird(policy, START)
    assert (first.percent_off, first.changes_at) == (25, START + timedelta(days=7))
    assert early_bird(policy, START + timedelta(days=7) - timedelta(seconds=1)).percent_off == 25
    assert early_bird(policy, START + timedelta(days=7)).percent_off == 15
    assert early_bird(policy, START + timedelta(days=10)).percent_off == 5
    assert early_bird(policy, START + timedelta(days=10)).changes_at is None
    assert discounted_unit_price(39000, 25) == 29250


def test_the_window_opens_and_closes_and_early_access_opens_it_sooner_for_its_segment() -> None:
    policy = PreorderPolicy(
        payment_mode="pay_now",
        starts_at=START,
        ends_at=START + timedelta(days=14),
        early_access_segment="newsletter",
        early_access_starts_at=START - timedelta(days=2),
    )
    assert window_state(policy, START - timedelta(days=1)) == "not_open"
    assert window_state(policy, START - timedelta(days=1), segments=frozenset({"newsletter"})) == "open"
    assert window_state(policy, START - timedelta(days=3), segments=frozenset({"newsletter"})) == "not_open"
    assert window_state(policy, START) == "open"
    assert window_state(policy, START + timedelta(days=14)) == "closed"


def test_the_balance_is_due_when_ready_at_a_time_or_hours_after_checkout() -> None:
    ordered = START + timedelta(hours=5)
    assert balance_due_at(PreorderPolicy(payment_mode="deposit", deposit_percent=10), ordered) is None
    at = PreorderPolicy(
        payment_mode="deposit",
        deposit_percent=10,
        balance_due="at",
        balance_due_at=START + timedelta(days=30),
    )
    assert balance_due_at(at, ordered) == START + timedelta(days=30)
    after = PreorderPolicy(payment_mode="pay_later", balance_due="after", balance_due_after_hours=48)
    assert balance_due_at(after, ordered) == ordered + timedelta(hours=48)


def test_a_campaign_is_named_by_its_sku_and_window_start_in_utc() -> None:
    seoul = timezone(timedelta(hours=9))
    policy = PreorderPolicy(payment_mode="pay_now", starts_at=datetime(2026, 12, 1, 9, tzinfo=seoul))
    assert campaign_id("TEE-M", policy) == "TEE-M@2026-12-01T00:00:00Z"
    assert campaign_id("TEE-M", PreorderPolicy(payment_mode="pay_now")) == "TEE-M@always"
