"""Which checkouts orders may refuse as sold out from catalog's last figures, and which it leaves to catalog."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from shop_contracts.values import PreorderPolicy
from shop_orders.core.domain import Availability, CatalogVariant, sold_out_reason
from shop_orders.core.errors import NotSellable, SoldOut
from shop_orders.core.pricing import CheckoutLine, price_checkout

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
OPEN = PreorderPolicy(payment_mode="pay_now", cap=10, starts_at=NOW - timedelta(days=1))


def variant(
    policy: PreorderPolicy | None = None,
    *,
    policy_version: int | None = None,
    in_stock: int = 0,
    left: int | None = None,
    counted_under: int | None = None,
) -> CatalogVariant:
    return CatalogVariant(
        sku="TEE",
        title="Tee",
        prices={"KRW": 39000},
        preorder_policy=policy,
        policy_version=policy_version,
        availability=Availability(
            in_stock_units=in_stock, preorder_units_left=left, policy_version=counted_under
        ),
    )


def test_an_in_stock_sku_with_no_units_left_is_sold_out() -> None:
    assert sold_out_reason(variant(in_stock=0), NOW) == "out_of_stock"


def test_a_sku_with_units_left_is_left_to_catalog() -> None:
    assert sold_out_reason(variant(in_stock=1), NOW) is None


def test_a_sku_catalog_said_nothing_about_is_left_to_catalog() -> None:
    assert sold_out_reason(CatalogVariant(sku="TEE", title="Tee", prices={"KRW": 1}), NOW) is None


def test_a_full_cap_of_an_open_preorder_is_sold_out() -> None:
    full = variant(OPEN, policy_version=3, left=0, counted_under=3)
    assert sold_out_reason(full, NOW) == "preorder_cap_reached"
    assert sold_out_reason(variant(OPEN, policy_version=3, left=1, counted_under=3), NOW) is None


def test_figures_counted_under_another_policy_version_are_left_to_catalog() -> None:
    assert sold_out_reason(variant(OPEN, policy_version=4, left=0, counted_under=3), NOW) is None
    assert sold_out_reason(variant(None, policy_version=4, in_stock=0, counted_under=3), NOW) is None


def test_a_window_that_is_not_open_is_left_to_catalog() -> None:
    later = OPEN.model_copy(update={"starts_at": NOW + timedelta(days=1)})
    assert sold_out_reason(variant(later, policy_version=1, left=0, counted_under=1), NOW) is None


@pytest.mark.parametrize(
    ("in_stock", "left", "expected"), [(0, 0, "preorder_cap_reached"), (1, 0, None), (0, 2, None)]
)
def test_selling_on_preorder_when_sold_out_is_sold_out_only_when_both_are_gone(
    in_stock: int, left: int, expected: str | None
) -> None:
    policy = OPEN.model_copy(update={"continue_selling_when_sold_out": True})
    assert sold_out_reason(
        variant(policy, policy_version=1, in_stock=in_stock, left=left, counted_under=1), NOW
    ) == (expected)


def test_the_refusal_names_the_line() -> None:
    with pytest.raises(SoldOut) as refused:
        price_checkout(
            currency="KRW",
            lines=[CheckoutLine(sku="CAP", quantity=1), CheckoutLine(sku="TEE", quantity=1)],
            variants={"CAP": CatalogVariant(sku="CAP", title="Cap", prices={"KRW": 1}), "TEE": variant()},
            shipping_method="standard",
            shipping_rates={"standard": {"KRW": 3000}},
            now=NOW,
        )
    assert refused.value.field == "lines[1].sku"


def test_a_variant_catalog_no_longer_sells_is_refused_as_such_even_when_also_out_of_stock() -> None:
    retired = dataclasses.replace(variant(), sellable=False)  # catalog also said no units are left

    with pytest.raises(NotSellable) as refused:
        price_checkout(
            currency="KRW",
            lines=[CheckoutLine(sku="TEE", quantity=1)],
            variants={"TEE": retired},
            shipping_method="standard",
            shipping_rates={"standard": {"KRW": 3000}},
            now=NOW,
        )
    assert refused.value.field == "lines[0].sku"
    assert "no longer sold" in str(refused.value)
