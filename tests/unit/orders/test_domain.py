"""Orders' pure rules: pricing a checkout, recognising a retried checkout, access tokens, saga transitions."""

from __future__ import annotations

import pytest

from shop_orders.domain import (
    CatalogVariant,
    CheckoutLine,
    NotSoldInCurrency,
    OrderStatus,
    UnknownShippingMethod,
    UnknownSku,
    access_token,
    access_token_matches,
    can_move,
    checkout_fingerprint,
    price_checkout,
)

VARIANTS = {
    "TEE-M": CatalogVariant(sku="TEE-M", title="Tee", prices={"KRW": 39000, "USD": 2950}),
    "CAP": CatalogVariant(sku="CAP", title="Cap", prices={"KRW": 15000}),
}
RATES = {"standard": {"KRW": 3000, "USD": 500}}


def test_a_checkout_is_priced_from_the_catalog_with_shipping_once_per_order() -> None:
    priced = price_checkout(
        currency="KRW",
        lines=[CheckoutLine("TEE-M", 2), CheckoutLine("CAP", 1)],
        variants=VARIANTS,
        shipping_method="standard",
        shipping_rates=RATES,
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
            currency=currency, lines=lines, variants=VARIANTS, shipping_method=method, shipping_rates=RATES
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
