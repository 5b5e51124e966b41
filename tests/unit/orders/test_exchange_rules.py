"""Exchanges: which variant may replace a returned one, and what the price difference charges or refunds."""

from __future__ import annotations

import pytest

from shop_contracts.money import Money
from shop_contracts.values import PreorderPolicy
from shop_orders.core.domain import CatalogVariant
from shop_orders.core.errors import ExchangeRefused
from shop_orders.returns.domain import check_exchange, exchange_difference


def USD(amount: int) -> Money:
    return Money(amount, "USD")


PRODUCTS = {"TEE-M": "p1", "TEE-L": "p1", "CAP": "p2", "TEE-XL": "p1"}
LARGE = CatalogVariant(sku="TEE-L", title="Tee L", prices={"KRW": 42000, "USD": 3200})


def test_another_option_of_the_same_product_may_replace_a_returned_unit_at_its_price_now() -> None:
    assert (
        check_exchange(
            index=0,
            sku="TEE-M",
            replacement=LARGE,
            replacement_sku="TEE-L",
            products=PRODUCTS,
            currency="KRW",
        )
        == 42000
    )


@pytest.mark.parametrize(
    ("replacement_sku", "replacement", "currency", "message"),
    [
        ("TEE-M", LARGE, "KRW", "for itself"),
        ("NOPE", None, "KRW", "no product variant"),
        ("CAP", CatalogVariant(sku="CAP", title="Cap", prices={"KRW": 1}), "KRW", "another product"),
        ("TEE-L", LARGE, "JPY", "no price in JPY"),
        (
            "TEE-XL",
            CatalogVariant(
                sku="TEE-XL",
                title="XL",
                prices={"KRW": 1},
                preorder_policy=PreorderPolicy(payment_mode="pay_now"),
            ),
            "KRW",
            "pre-order",
        ),
    ],
)
def test_an_exchange_is_refused_naming_the_line_and_why(
    replacement_sku: str, replacement: CatalogVariant | None, currency: str, message: str
) -> None:
    with pytest.raises(ExchangeRefused, match=message) as refused:
        check_exchange(
            index=2,
            sku="TEE-M",
            replacement=replacement,
            replacement_sku=replacement_sku,
            products=PRODUCTS,
            currency=currency,
        )
    assert refused.value.field == "lines[2].exchange_for"


def test_a_dearer_replacement_charges_the_difference_and_a_cheaper_one_refunds_it() -> None:
    dearer = exchange_difference(
        currency="USD",
        returned_unit_price=39000,
        replacement_unit_price=42000,
        units=2,
        tax_rate=1000,
        tax_added_on_top=False,
    )
    assert (dearer.price_difference, dearer.tax, dearer.total) == (USD(6000), USD(0), USD(6000))
    cheaper = exchange_difference(
        currency="USD",
        returned_unit_price=39000,
        replacement_unit_price=35000,
        units=1,
        tax_rate=1000,
        tax_added_on_top=False,
    )
    assert cheaper.total == USD(-4000)
    same = exchange_difference(
        currency="USD",
        returned_unit_price=39000,
        replacement_unit_price=39000,
        units=3,
        tax_rate=0,
        tax_added_on_top=False,
    )
    assert same.total == USD(0)


def test_where_tax_comes_on_top_the_difference_carries_its_tax_rounded_half_up() -> None:
    # 2.50 USD more at 7.25 %: 18.125 cents -> 18; 2.50 less refunds the same 18 cents with it.
    up = exchange_difference(
        currency="USD",
        returned_unit_price=3000,
        replacement_unit_price=3250,
        units=1,
        tax_rate=725,
        tax_added_on_top=True,
    )
    assert (up.price_difference, up.tax, up.total) == (USD(250), USD(18), USD(268))
    down = exchange_difference(
        currency="USD",
        returned_unit_price=3250,
        replacement_unit_price=3000,
        units=1,
        tax_rate=725,
        tax_added_on_top=True,
    )
    assert (down.price_difference, down.tax, down.total) == (USD(-250), USD(-18), USD(-268))
