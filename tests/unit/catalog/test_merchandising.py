"""Catalog's rules for running the catalog: what may be sold, how a price change merges and when it applies, and
that safety stock only ever lowers what is available."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop_catalog.domain.errors import InvalidPreorderPolicy, InvalidPriceChange
from shop_catalog.domain.policies import check_deposits_cover
from shop_catalog.domain.products import (
    Sellability,
    changed_prices,
    check_price_currencies,
    price_change_due,
    unsellable_shortages,
)
from shop_catalog.domain.stock import RequestedLine, StockLevel, plan_reservation
from shop_contracts.values import PreorderPolicy

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
ACTIVE = Sellability(retired_at=None, archived_at=None)
RETIRED = Sellability(retired_at=NOW, archived_at=None)
ARCHIVED = Sellability(retired_at=None, archived_at=NOW)


def test_a_variant_sells_while_neither_retired_nor_archived_and_retired_is_the_reason_that_wins() -> None:
    assert [(s.sellable, s.reason) for s in (ACTIVE, RETIRED, ARCHIVED)] == [
        (True, None),
        (False, "variant_retired"),
        (False, "product_archived"),
    ]
    both = Sellability(retired_at=NOW, archived_at=NOW)
    assert both.reason == "variant_retired"  # a restore would not sell it again


def test_lines_of_variants_that_may_not_be_sold_are_refused_once_per_sku_with_all_their_units() -> None:
    lines = [
        RequestedLine("OLD", 1),
        RequestedLine("NEW", 2),
        RequestedLine("OLD", 2),
        RequestedLine("GONE", 1),
    ]
    shortages = unsellable_shortages(lines, {"OLD": RETIRED, "NEW": ACTIVE, "GONE": ARCHIVED})
    assert [(s.sku, s.requested, s.available, s.reason) for s in shortages] == [
        ("GONE", 1, 0, "product_archived"),
        ("OLD", 3, 0, "variant_retired"),
    ]


def test_lines_of_sellable_or_unknown_variants_are_left_to_the_stock_rules() -> None:
    # An unknown SKU is the stock rules' to refuse (it has no stock), not a retired one.
    assert unsellable_shortages([RequestedLine("NEW", 1), RequestedLine("WHO", 1)], {"NEW": ACTIVE}) == []


def test_a_price_change_sets_the_currencies_it_names_and_keeps_the_others() -> None:
    assert changed_prices({"KRW": 39000, "USD": 3000}, {"KRW": 35000}) == {"KRW": 35000, "USD": 3000}
    assert changed_prices({"KRW": 39000}, {"USD": 2900}) == {"KRW": 39000, "USD": 2900}


def test_a_price_change_applies_now_without_a_time_and_is_scheduled_for_a_future_one() -> None:
    assert price_change_due(None, NOW) is None
    later = NOW + timedelta(days=1)
    assert price_change_due(later, NOW) == later


@pytest.mark.parametrize("when", [NOW, NOW - timedelta(seconds=1)])
def test_a_price_change_for_a_moment_already_come_is_refused_naming_the_field(when: datetime) -> None:
    with pytest.raises(InvalidPriceChange) as refused:
        price_change_due(when, NOW)
    assert refused.value.field == "effective_at"


def test_a_currency_named_twice_in_one_change_is_refused() -> None:
    check_price_currencies(["KRW", "USD"])
    with pytest.raises(InvalidPriceChange) as refused:
        check_price_currencies(["KRW", "KRW"])
    assert refused.value.field == "prices"


def test_safety_stock_is_kept_back_from_what_is_available_and_never_makes_it_negative() -> None:
    level = StockLevel(sku="TEE", location="seoul-1", on_hand=10, reserved=3, safety_stock=2)
    assert level.available == 5
    level.safety_stock = 9  # more than is unreserved: nothing is available, what is reserved stays
    assert level.available == 0
    assert level.reserved == 3


def test_a_reservation_never_takes_units_kept_back_as_safety_stock() -> None:
    levels = [
        StockLevel(sku="TEE", location="seoul-1", on_hand=5, reserved=0, safety_stock=3),
        StockLevel(sku="TEE", location="busan-1", on_hand=2, reserved=1, safety_stock=0),
    ]
    plan, shortages = plan_reservation([RequestedLine("TEE", 4)], levels)
    assert plan == []
    assert [(s.requested, s.available) for s in shortages] == [(4, 3)]
    plan, shortages = plan_reservation([RequestedLine("TEE", 3)], levels)
    assert not shortages
    assert sorted((line.location, line.quantity) for line in plan) == [("busan-1", 1), ("seoul-1", 2)]


def test_a_fixed_deposit_must_cover_every_currency_the_variant_is_sold_in() -> None:
    fixed = PreorderPolicy(payment_mode="deposit", deposit_amounts={"KRW": 10000})

    check_deposits_cover(fixed, {"KRW"})
    check_deposits_cover(PreorderPolicy(payment_mode="deposit", deposit_percent=30), {"KRW", "USD"})
    with pytest.raises(InvalidPreorderPolicy) as refused:
        check_deposits_cover(fixed, {"KRW", "USD"})

    assert refused.value.field == "deposit_amounts"
    assert "USD" in str(refused.value)
