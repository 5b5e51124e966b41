"""Payments takes both versions of orders' confirmation (a held order's terms): bound to each, handled as version 2."""

from __future__ import annotations

from shop_contracts import orders
from shop_payments.consumers import SUBSCRIPTIONS
from shop_runtime.consumer import bindings_for


def test_the_confirmation_is_subscribed_in_money_and_bound_to_both_versions() -> None:
    keys = {binding.routing_key for binding in bindings_for(SUBSCRIPTIONS)}

    assert orders.OrderConfirmed in SUBSCRIPTIONS
    assert orders.OrderConfirmedV1 not in SUBSCRIPTIONS
    assert {"orders.order.confirmed.v1", "orders.order.confirmed.v2"} <= keys
