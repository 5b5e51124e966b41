"""Shipping methods: prices, the free-shipping threshold (standard only) and where same-day delivery is offered."""

from __future__ import annotations

import pytest

from shop_orders.core.errors import SameDayNotOffered, UnknownShippingMethod
from shop_orders.core.pricing import (
    CheckoutLine,
    SameDayArea,
    TaxTable,
    same_day_locations,
    shipping_price,
    shipping_quotes,
)

RATES = {
    "standard": {"KRW": 3000, "USD": 500},
    "express": {"KRW": 6000, "USD": 1500},
    "same_day": {"KRW": 9000},
}
AREAS = {
    "seoul-1": [SameDayArea(country="KR", city="Seoul")],
    "pangyo-1": [SameDayArea(country="KR", postal_prefixes=("134", "135"))],
    "sf-1": [SameDayArea(country="US", region="CA", city="San Francisco")],
}
SEOUL = {"country": "KR", "city": "seoul ", "postal_code": "06236"}
PANGYO = {"country": "KR", "city": "Seongnam", "postal_code": "13494"}
BUSAN = {"country": "KR", "city": "Busan", "postal_code": "48058"}
LINES = [CheckoutLine(sku="TEE", quantity=2), CheckoutLine(sku="CAP", quantity=1)]


def test_the_free_shipping_threshold_applies_to_standard_shipping_only() -> None:
    def price(method: str, subtotal: int) -> int:
        return shipping_price(
            method=method,
            currency="KRW",
            subtotal=subtotal,
            shipping_rates=RATES,
            free_shipping_over={"KRW": 50000},
        )

    assert price("standard", 49999) == 3000
    assert price("standard", 50000) == 0
    assert price("express", 50000) == 6000
    assert price("same_day", 90000) == 9000
    with pytest.raises(UnknownShippingMethod) as unknown:
        price("drone", 1000)
    assert unknown.value.field == "shipping_method"
    with pytest.raises(UnknownShippingMethod) as no_rate:
        shipping_price(method="same_day", currency="USD", subtotal=1, shipping_rates=RATES)
    assert no_rate.value.field == "currency"


def test_same_day_areas_match_country_region_city_and_postal_prefixes() -> None:
    assert SameDayArea(country="KR", city="Seoul").covers(SEOUL)
    assert not SameDayArea(country="KR", city="Seoul").covers(BUSAN)
    assert SameDayArea(country="KR", postal_prefixes=("134",)).covers(PANGYO)
    assert not SameDayArea(country="KR", postal_prefixes=("134",)).covers(SEOUL)
    assert SameDayArea(country="US", region="CA").covers({"country": "US", "region": "ca", "city": "Oakland"})
    assert not SameDayArea(country="US", region="CA").covers({"country": "US", "region": "NY"})


def test_same_day_is_offered_from_a_covering_location_holding_every_line() -> None:
    stock = {"seoul-1": {"TEE": 2, "CAP": 1}, "pangyo-1": {"TEE": 5}}
    found = same_day_locations(address=SEOUL, lines=LINES, areas=AREAS, preorder_skus=set(), stock=stock)
    assert found == ["seoul-1"]
    # Without a stock snapshot every covering location may try (catalog decides when it reserves).
    assert same_day_locations(address=SEOUL, lines=LINES, areas=AREAS, preorder_skus=set(), stock=None) == [
        "seoul-1"
    ]


def test_same_day_is_refused_with_the_reason_outside_the_area_for_pre_orders_and_without_stock() -> None:
    with pytest.raises(SameDayNotOffered, match="does not reach 48058, Busan, KR") as far:
        same_day_locations(address=BUSAN, lines=LINES, areas=AREAS, preorder_skus=set(), stock={})
    assert far.value.field == "shipping_method"
    with pytest.raises(SameDayNotOffered, match="CAP is sold on pre-order"):
        same_day_locations(address=SEOUL, lines=LINES, areas=AREAS, preorder_skus={"CAP"}, stock=None)
    # The units are there, but split over two places (or at a location that does not deliver here).
    split = {"seoul-1": {"TEE": 2}, "pangyo-1": {"CAP": 1}, "busan-1": {"TEE": 9, "CAP": 9}}
    with pytest.raises(SameDayNotOffered, match=r"not every line is in stock .*\(seoul-1\)"):
        same_day_locations(address=SEOUL, lines=LINES, areas=AREAS, preorder_skus=set(), stock=split)


def test_quotes_list_every_method_with_a_rate_in_the_currency_priced_or_refused() -> None:
    def quotes(address: dict[str, str], currency: str, subtotal: int) -> list[tuple[object, ...]]:
        return [
            (q.method, q.available, q.shipping, q.tax, q.tax_included, q.total, q.reason is None)
            for q in shipping_quotes(
                currency=currency,
                subtotal=subtotal,
                address=address,
                lines=LINES,
                shipping_rates=RATES,
                free_shipping_over={"KRW": 50000},
                same_day_areas=AREAS,
                preorder_skus=set(),
                stock={"seoul-1": {"TEE": 5, "CAP": 5}},
                taxes=TaxTable(rates={"KR": 1000, "US-CA": 725}, added_on_top_countries=frozenset({"US"})),
            )
        ]

    assert quotes(SEOUL, "KRW", 60000) == [
        ("express", True, 6000, 6000, True, 66000, True),
        ("same_day", True, 9000, 6273, True, 69000, True),
        ("standard", True, 0, 5455, True, 60000, True),
    ]
    assert quotes(BUSAN, "KRW", 10000)[1] == ("same_day", False, None, None, None, None, False)
    # USD has no same-day rate: not listed. 7.25 % on top in California.
    assert quotes(
        {"country": "US", "region": "CA", "city": "Fresno", "postal_code": "93650"}, "USD", 10000
    ) == [
        ("express", True, 1500, 834, False, 12334, True),
        ("standard", True, 500, 761, False, 11261, True),
    ]
