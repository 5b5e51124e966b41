"""Notifications takes both versions of orders' money-bearing events: bound to each, handled as version 2."""

from __future__ import annotations

from shop_contracts import Message, orders
from shop_notifications.consumers import subscriptions
from shop_runtime.consumer import bindings_for

TOLD_WITH_AMOUNTS: list[type[Message]] = [
    orders.OrderConfirmed,
    orders.OrderBalanceCharged,
    orders.OrderBalanceChargeFailed,
    orders.OrderBalanceReminder,
    orders.OrderCancelled,
    orders.ReturnRefunded,
    orders.DraftInvoiceSent,
    orders.OrderPaymentOverdue,
    orders.SubscriptionChargeUpcoming,
    orders.SubscriptionCycleCharged,
    orders.SubscriptionCycleFailed,
]


def test_every_email_with_an_amount_is_subscribed_in_money_and_bound_to_both_versions() -> None:
    subscribed = subscriptions(storefront_url="https://shop.example")
    keys = {binding.routing_key for binding in bindings_for(subscribed)}

    for message in TOLD_WITH_AMOUNTS:
        assert message in subscribed, message.TYPE
        previous = message.REPLACES
        assert previous is not None
        assert previous not in subscribed
        assert {message.TYPE, previous.TYPE} <= keys
