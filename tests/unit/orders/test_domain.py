"""Orders' pure rules: pricing a checkout, recognising a retried checkout, access tokens, saga transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop_contracts.money import Money
from shop_contracts.values import EarlyBirdTier, PreorderPolicy
from shop_orders.core.domain import (
    CatalogVariant,
    GroupStatus,
    OrderStatus,
    access_token,
    access_token_matches,
    can_move,
    group_may_move,
    status_after_shipments,
)
from shop_orders.core.errors import DuplicateSku, NotSoldInCurrency, UnknownShippingMethod, UnknownSku
from shop_orders.core.pricing import (
    CheckoutLine,
    PlanLine,
    balance_for_units,
    checkout_fingerprint,
    included_tax,
    plan_checkout_charge,
    price_checkout,
    tax_rate_for,
)

VARIANTS = {
    "TEE-M": CatalogVariant(sku="TEE-M", title="Tee", prices={"KRW": 39000, "USD": 2950}),
    "CAP": CatalogVariant(sku="CAP", title="Cap", prices={"KRW": 15000}),
}
RATES = {"standard": {"KRW": 3000, "USD": 500}}
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def KRW(amount: int) -> Money:
    return Money(amount, "KRW")


def test_a_checkout_is_priced_from_the_catalog_with_shipping_once_per_order() -> None:
    priced = price_checkout(
        currency="KRW",
        lines=[CheckoutLine("TEE-M", 2), CheckoutLine("CAP", 1)],
        variants=VARIANTS,
        shipping_method="standard",
        shipping_rates=RATES,
        now=NOW,
    )
    assert [line.line_total for line in priced.lines] == [78000, 15000]
    assert (priced.subtotal, priced.shipping, priced.total) == (93000, 3000, 96000)


def test_usd_amounts_stay_in_cents() -> None:
    priced = price_checkout(
        currency="USD",
        lines=[CheckoutLine("TEE-M", 3)],
        variants=VARIANTS,
        shipping_method="standard",
        shipping_rates=RATES,
        now=NOW,
    )
    assert priced.total == 3 * 2950 + 500


@pytest.mark.parametrize(
    ("lines", "currency", "method", "error", "field"),
    [
        ([CheckoutLine("TEE-M", 1), CheckoutLine("NOPE", 1)], "KRW", "standard", UnknownSku, "lines[1].sku"),
        ([CheckoutLine("CAP", 1)], "USD", "standard", NotSoldInCurrency, "lines[0].sku"),
        ([CheckoutLine("CAP", 1)], "KRW", "teleport", UnknownShippingMethod, "shipping_method"),
    ],
)
def test_what_cannot_be_priced_names_the_field(lines, currency, method, error, field) -> None:
    with pytest.raises(error) as raised:
        price_checkout(
            currency=currency,
            lines=lines,
            variants=VARIANTS,
            shipping_method=method,
            shipping_rates=RATES,
            now=NOW,
        )
    assert raised.value.field == field


def test_the_same_request_in_another_key_order_has_the_same_fingerprint() -> None:
    first = checkout_fingerprint({"a": 1, "lines": [{"sku": "X", "quantity": 1}]})
    same = checkout_fingerprint({"lines": [{"quantity": 1, "sku": "X"}], "a": 1})
    other = checkout_fingerprint({"a": 1, "lines": [{"sku": "X", "quantity": 2}]})
    assert first == same != other


def test_an_access_token_opens_only_its_own_order() -> None:
    token = access_token("secret-secret-secret", "order-1")
    assert access_token_matches("secret-secret-secret", "order-1", token)
    assert not access_token_matches("secret-secret-secret", "order-2", token)
    assert not access_token_matches("rotated-secret-value", "order-1", token)


def test_saga_steps_only_move_forward() -> None:
    assert can_move(OrderStatus.PENDING, OrderStatus.RESERVED)
    assert can_move(OrderStatus.RESERVED, OrderStatus.CONFIRMED)
    assert not can_move(OrderStatus.PENDING, OrderStatus.CONFIRMED)
    assert not can_move(OrderStatus.CONFIRMED, OrderStatus.REJECTED)
    assert not can_move(OrderStatus.REJECTED, OrderStatus.RESERVED)


def test_a_sku_on_two_lines_is_refused() -> None:
    with pytest.raises(DuplicateSku) as raised:
        price_checkout(
            currency="KRW",
            lines=[CheckoutLine("CAP", 1), CheckoutLine("CAP", 2)],
            variants=VARIANTS,
            shipping_method="standard",
            shipping_rates=RATES,
            now=NOW,
        )
    assert raised.value.field == "lines[1].sku"


def test_an_open_preorder_is_priced_with_the_early_bird_tier_of_the_moment() -> None:
    policy = PreorderPolicy(
        payment_mode="pay_now",
        starts_at=NOW - timedelta(days=1),
        early_bird_tiers=[EarlyBirdTier(until_day=7, percent_off=25), EarlyBirdTier(percent_off=5)],
    )
    variants = {
        "JACKET": CatalogVariant(sku="JACKET", title="Jacket", prices={"KRW": 40000}, preorder_policy=policy)
    }
    priced = price_checkout(
        currency="KRW",
        lines=[CheckoutLine("JACKET", 1)],
        variants=variants,
        shipping_method="standard",
        shipping_rates=RATES,
        now=NOW,
    )
    assert (priced.lines[0].unit_price, priced.lines[0].percent_off) == (30000, 25)


def test_an_early_access_member_pays_the_first_tier_and_is_not_charged_the_full_price() -> None:
    policy = PreorderPolicy(
        payment_mode="pay_now",
        starts_at=NOW + timedelta(days=2),
        early_bird_tiers=[EarlyBirdTier(until_day=7, percent_off=25), EarlyBirdTier(percent_off=5)],
        early_access_segment="vip",
        early_access_starts_at=NOW - timedelta(hours=1),
    )
    variants = {
        "JACKET": CatalogVariant(sku="JACKET", title="Jacket", prices={"KRW": 40000}, preorder_policy=policy)
    }

    def priced_for(segments: frozenset[str]) -> tuple[int, int]:
        priced = price_checkout(
            currency="KRW",
            lines=[CheckoutLine("JACKET", 1)],
            variants=variants,
            shipping_method="standard",
            shipping_rates=RATES,
            now=NOW,
            segments=segments,
        )
        return priced.lines[0].unit_price, priced.lines[0].percent_off

    assert priced_for(frozenset({"vip"})) == (30000, 25)
    # Catalog refuses everyone else before the public window; were it to price them, no tier is open to them.
    assert priced_for(frozenset({"newsletter"})) == (40000, 0)


def test_checkout_charges_in_stock_lines_in_full_and_preorders_their_upfront_part_with_shipping_once() -> (
    None
):
    deposit = PreorderPolicy(payment_mode="deposit", deposit_percent=20)
    charge = plan_checkout_charge(
        [PlanLine("TEE", 1, 39000, None), PlanLine("JACKET", 1, 100000, deposit)],
        shipping=3000,
        currency="KRW",
    )
    assert charge.paid_now == {"TEE": 39000, "JACKET": 20000}
    assert charge.balance == {"TEE": 0, "JACKET": 80000}
    assert (charge.charged_now, charge.shipping_deferred) == (62000, False)


def test_pay_later_alone_charges_nothing_at_checkout_and_defers_shipping() -> None:
    later = PreorderPolicy(payment_mode="pay_later")
    charge = plan_checkout_charge([PlanLine("JACKET", 2, 80000, later)], shipping=3000, currency="KRW")
    assert (charge.charged_now, charge.shipping_deferred, charge.balance["JACKET"]) == (0, True, 80000)


def test_balance_shares_of_partial_allocations_add_up_to_the_balance() -> None:
    first = balance_for_units(balance_left=KRW(1000), units_left=3, units=1)
    second = balance_for_units(balance_left=KRW(1000) - first, units_left=2, units=1)
    third = balance_for_units(balance_left=KRW(1000) - first - second, units_left=1, units=1)
    assert (first, second, third) == (KRW(333), KRW(333), KRW(334))


def test_a_delivery_handled_before_its_shipment_still_delivers_the_order_and_the_late_shipment_changes_nothing() -> (
    None
):
    delivered_first = status_after_shipments(
        OrderStatus.CONFIRMED, shipped=0, delivered=2, total=2, any_refunded=False
    )
    assert delivered_first is OrderStatus.DELIVERED
    assert (
        status_after_shipments(OrderStatus.DELIVERED, shipped=0, delivered=2, total=2, any_refunded=False)
        is None
    )


def test_shipments_move_an_order_forward_only() -> None:
    assert (
        status_after_shipments(OrderStatus.CONFIRMED, shipped=1, delivered=0, total=3, any_refunded=False)
        is OrderStatus.PARTIALLY_SHIPPED
    )
    assert (
        status_after_shipments(
            OrderStatus.PARTIALLY_SHIPPED, shipped=2, delivered=1, total=3, any_refunded=False
        )
        is OrderStatus.SHIPPED
    )
    assert (
        status_after_shipments(OrderStatus.CONFIRMED, shipped=2, delivered=0, total=2, any_refunded=True)
        is OrderStatus.PARTIALLY_FULFILLED
    )
    assert (
        status_after_shipments(OrderStatus.SHIPPED, shipped=1, delivered=0, total=3, any_refunded=False)
        is None
    )


def test_a_warehouse_report_never_moves_a_group_back_nor_revives_a_cancelled_one() -> None:
    assert group_may_move(GroupStatus.PICK_REQUESTED, GroupStatus.PACKED)
    assert group_may_move(GroupStatus.RELEASED, GroupStatus.DELIVERED)
    assert not group_may_move(GroupStatus.SHIPPED, GroupStatus.PACKED)
    assert not group_may_move(GroupStatus.DELIVERED, GroupStatus.SHIPPED)
    assert not group_may_move(GroupStatus.SHIPPED, GroupStatus.SHIPPED)
    assert not group_may_move(GroupStatus.CANCELLED, GroupStatus.PICKED)
    assert not group_may_move(GroupStatus.CANCELLED, GroupStatus.PICK_REQUESTED)
    # A pick of nothing cancels the group, but never once it is packed or gone.
    assert group_may_move(GroupStatus.PICK_REQUESTED, GroupStatus.CANCELLED)
    assert not group_may_move(GroupStatus.PACKED, GroupStatus.CANCELLED)
    assert not group_may_move(GroupStatus.DELIVERED, GroupStatus.CANCELLED)


def test_shipping_is_free_from_the_currencys_threshold_on() -> None:
    def shipping(quantity: int) -> int:
        return price_checkout(
            currency="KRW",
            lines=[CheckoutLine(sku="TEE-M", quantity=quantity)],
            variants=VARIANTS,
            shipping_method="standard",
            shipping_rates=RATES,
            now=NOW,
            free_shipping_over={"KRW": 78000},
        ).shipping

    assert shipping(1) == RATES["standard"]["KRW"]
    assert shipping(2) == 0


def test_the_tax_an_inclusive_total_holds_is_rounded_half_up_and_found_by_region_then_country() -> None:
    assert included_tax(KRW(11000), 1000) == KRW(1000)
    assert included_tax(KRW(81000), 1000) == KRW(7364)  # 7363.6
    assert included_tax(KRW(6), 1000) == KRW(1)  # 0.545
    assert included_tax(KRW(5), 1000) == KRW(0)  # 0.455
    assert included_tax(KRW(5000), 0) == KRW(0)
    rates = {"KR": 1000, "US-CA": 725, "US": 0}
    assert tax_rate_for({"country": "KR", "region": "Seoul"}, rates) == 1000
    assert tax_rate_for({"country": "US", "region": "CA"}, rates) == 725
    assert tax_rate_for({"country": "US", "region": "NY"}, rates) == 0
    assert tax_rate_for({"country": "JP"}, rates) == 0
