"""Payments against the real PostgreSQL and RabbitMQ: its HTTP API and its worker, with the sandbox PSP."""

from __future__ import annotations

import uuid

import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import payments as contracts
from shop_contracts.money import Money
from tests.integration.payments.harness import Payments, charges_of, payments_of, worker_idle
from tests.support.messages import MessageProbe, eventually, send

pytestmark = pytest.mark.integration


def _capture(
    order_id: str, token: str, amount: int = 39000, currency: str = "KRW"
) -> contracts.CapturePayment:
    return contracts.CapturePayment(
        order_id=order_id, step="full", amount=Money(amount, currency), payment_token=token
    )


async def test_a_card_that_pays_is_captured_and_shows_in_the_ledger(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await send(broker, _capture("order-paid", "tok_visa"), subject="order-paid")
    succeeded = await probe.wait_for(contracts.PaymentSucceeded, lambda m: m.order_id == "order-paid")
    assert (succeeded.amount, succeeded.step) == (Money(39000, "KRW"), "full")
    assert (succeeded.card_brand, succeeded.card_last4) == ("visa", "4242")

    async def captured() -> None:
        view = await payments_of(payments.client, "order-paid")
        assert (view["captured"], view["refunded"], view["currency"]) == (39000, 0, "KRW")
        [payment] = view["items"]
        assert payment["id"] == succeeded.payment_id
        assert payment["status"] == "succeeded"
        assert (payment["amount"], payment["card_brand"], payment["card_last4"]) == (39000, "visa", "4242")
        assert payment["psp_reference"]
        assert "tok_visa" not in str(view)

    await eventually(captured)


async def test_a_capture_asked_in_version_1_is_still_charged_and_told_in_version_2(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    """One sent before orders moved to version 2 (still queued at deploy): the worker is bound to it too."""
    old = contracts.CapturePaymentV1(
        order_id="order-paid-v1", step="full", amount=1250, currency="USD", payment_token="tok_visa"
    )
    await send(broker, old, subject="order-paid-v1")
    succeeded = await probe.wait_for(contracts.PaymentSucceeded, lambda m: m.order_id == "order-paid-v1")
    assert succeeded.amount == Money(1250, "USD")
    assert probe.of_type(contracts.PaymentSucceededV1) == []

    async def captured() -> None:
        view = await payments_of(payments.client, "order-paid-v1")
        assert (view["captured"], view["currency"]) == (1250, "USD")

    await eventually(captured)


async def test_a_declined_card_fails_the_payment_and_captures_nothing(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await send(broker, _capture("order-declined", "tok_card_declined", 2500, "USD"), subject="order-declined")
    failed = await probe.wait_for(contracts.PaymentFailed, lambda m: m.order_id == "order-declined")
    assert failed.decline_code == "card_declined"
    assert failed.amount == Money(2500, "USD")
    view = await payments_of(payments.client, "order-declined")
    assert (view["captured"], view["currency"]) == (0, "USD")
    [payment] = view["items"]
    assert (payment["status"], payment["decline_code"]) == ("failed", "card_declined")
    assert not [m for m in probe.of_type(contracts.PaymentSucceeded) if m.order_id == "order-declined"]


async def test_insufficient_funds_fails_the_payment_with_its_reason(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await send(broker, _capture("order-broke", "tok_insufficient_funds"), subject="order-broke")
    failed = await probe.wait_for(contracts.PaymentFailed, lambda m: m.order_id == "order-broke")
    assert failed.decline_code == "insufficient_funds"
    assert failed.message
    view = await payments_of(payments.client, "order-broke")
    assert view["captured"] == 0


async def test_a_duplicate_delivery_charges_once_and_tells_once(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    message_id = uuid.uuid4()
    command = _capture("order-twice", "tok_mastercard")
    await send(broker, command, subject="order-twice", message_id=message_id)
    await send(broker, command, subject="order-twice", message_id=message_id)
    await probe.wait_for(contracts.PaymentSucceeded, lambda m: m.order_id == "order-twice")
    await worker_idle()
    view = await payments_of(payments.client, "order-twice")
    assert len(view["items"]) == 1
    assert view["captured"] == 39000
    assert len(charges_of(payments.sandbox, "order-twice")) == 1
    assert len([m for m in probe.of_type(contracts.PaymentSucceeded) if m.order_id == "order-twice"]) == 1


async def test_the_same_step_asked_again_is_neither_charged_nor_told_again(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await send(broker, _capture("order-again", "tok_visa"), subject="order-again")
    first = await probe.wait_for(contracts.PaymentSucceeded, lambda m: m.order_id == "order-again")
    # The same command under another message id (asked again, re-published): its outcome was told once.
    await send(broker, _capture("order-again", "tok_visa"), subject="order-again")
    await worker_idle()

    told = [m for m in probe.of_type(contracts.PaymentSucceeded) if m.order_id == "order-again"]
    assert [m.payment_id for m in told] == [first.payment_id]
    view = await payments_of(payments.client, "order-again")
    assert len(view["items"]) == 1
    assert view["captured"] == 39000
    assert len(charges_of(payments.sandbox, "order-again")) == 1


async def test_asking_again_after_a_decline_neither_charges_nor_tells_the_decline_again(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await send(broker, _capture("order-retold", "tok_card_declined"), subject="order-retold")
    await probe.wait_for(contracts.PaymentFailed, lambda m: m.order_id == "order-retold")
    await send(broker, _capture("order-retold", "tok_card_declined"), subject="order-retold")
    await worker_idle()

    told = [m for m in probe.of_type(contracts.PaymentFailed) if m.order_id == "order-retold"]
    assert [m.decline_code for m in told] == ["card_declined"]
    assert not [m for m in probe.of_type(contracts.PaymentSucceeded) if m.order_id == "order-retold"]
    assert len(charges_of(payments.sandbox, "order-retold")) == 1


async def test_an_order_without_payments_has_an_empty_ledger(payments: Payments) -> None:
    view = await payments_of(payments.client, "order-unpaid")
    assert view == {"items": [], "refunds": [], "captured": 0, "refunded": 0, "currency": None}


async def test_listing_payments_needs_an_order_id(payments: Payments) -> None:
    response = await payments.client.get("/payments")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert {error["field"] for error in response.json()["errors"]} == {"query:order_id"}
