"""Subscription cycles charged by payments against the real PostgreSQL and RabbitMQ: off session, once per
cycle whatever is asked again, recorded under the cycle's order so it refunds like any order; and a card
verified for a subscription without charging it."""

from __future__ import annotations

import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import payments as contracts
from shop_contracts.money import Money
from tests.integration.payments.harness import Payments, payments_of, worker_idle
from tests.support.messages import MessageProbe, send

pytestmark = pytest.mark.integration


def ask(attempt: int, token: str, *, order_id: str = "order-cycle-1") -> contracts.ChargeSubscriptionCycle:
    return contracts.ChargeSubscriptionCycle(
        subscription_id="sub-1",
        cycle=1,
        attempt=attempt,
        order_id=order_id,
        amount=Money(25_000, "KRW"),
        payment_token=token,
    )


async def test_a_declined_cycle_is_charged_on_a_later_attempt_once_and_refunds_as_an_order(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await send(broker, ask(1, "tok_fails_later"), subject="sub-1")
    failed = await probe.wait_for(contracts.SubscriptionChargeFailed, lambda m: m.order_id == "order-cycle-1")
    assert (failed.attempt, failed.decline_code) == (1, "card_declined")

    # The same attempt asked again is a copy: not charged, not told.
    await send(broker, ask(1, "tok_fails_later"), subject="sub-1")
    await send(broker, ask(2, "tok_visa"), subject="sub-1")
    charged = await probe.wait_for(
        contracts.SubscriptionChargeSucceeded, lambda m: m.order_id == "order-cycle-1"
    )
    assert (charged.attempt, charged.amount, charged.card_last4) == (2, Money(25_000, "KRW"), "4242")

    # Once charged, a later attempt (a retry that crossed the success) charges nothing.
    await send(broker, ask(3, "tok_visa"), subject="sub-1")
    await worker_idle()
    assert len(probe.of_type(contracts.SubscriptionChargeFailed)) == 1
    assert len(probe.of_type(contracts.SubscriptionChargeSucceeded)) == 1
    keys = [charge.idempotency_key for charge in payments.sandbox.charges]
    assert keys == ["subscription:sub-1:cycle:1:attempt:1", "subscription:sub-1:cycle:1:attempt:2"]

    view = await payments_of(payments.client, "order-cycle-1")
    assert view["captured"] == 25_000
    refund = await payments.client.post(
        "/refunds",
        json={"order_id": "order-cycle-1", "amount": 25_000, "reason": "cancelled", "idempotency_key": "r-1"},
    )
    assert refund.status_code == 201, refund.text
    assert (await payments_of(payments.client, "order-cycle-1"))["refunded"] == 25_000


async def test_a_card_is_verified_for_a_subscription_without_a_charge(payments: Payments) -> None:
    good = await payments.client.post("/payment-methods/verifications", json={"token": "tok_mastercard"})
    assert good.status_code == 200, good.text
    assert good.json() == {"brand": "mastercard", "last4": "4444"}
    bad = await payments.client.post("/payment-methods/verifications", json={"token": "tok_card_declined"})
    assert bad.status_code == 422, bad.text
    assert bad.json()["code"] == "payment_method_not_verified"
    assert [error["field"] for error in bad.json()["errors"]] == ["token"]
    assert payments.sandbox.charges == []
