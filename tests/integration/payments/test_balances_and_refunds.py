"""Pre-order payments against the real PostgreSQL and RabbitMQ: saved methods, off-session balance charges
with their retries, replacing a saved method, and refunds."""

from __future__ import annotations

from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import payments as contracts
from shop_contracts.money import Money
from shop_runtime.metrics import REGISTRY
from tests.integration.payments.harness import (
    Payments,
    charges_of,
    payments_of,
    send_copy,
    worker_idle,
)
from tests.support.messages import MessageProbe, eventually, send

pytestmark = pytest.mark.integration


async def _checkout(
    broker: AbstractRobustConnection,
    probe: MessageProbe,
    order_id: str,
    token: str,
    *,
    amount: int,
    currency: str = "KRW",
) -> contracts.PaymentSucceeded:
    """Pay what is due at checkout and save the method, as a deposit or pay-later pre-order does."""
    command = contracts.CapturePayment(
        order_id=order_id,
        step="full",
        amount=Money(amount, currency),
        payment_token=token,
        save_method=True,
        balance_later=True,
    )
    await send(broker, command, subject=order_id)
    return await probe.wait_for(contracts.PaymentSucceeded, lambda m: m.order_id == order_id)


async def _charge_balance(
    broker: AbstractRobustConnection,
    order_id: str,
    amount: int,
    *,
    group_id: str = "g-1",
    currency: str = "KRW",
) -> None:
    command = contracts.ChargeBalance(order_id=order_id, group_id=group_id, amount=Money(amount, currency))
    await send(broker, command, subject=order_id)


def _charged(probe: MessageProbe, order_id: str) -> list[contracts.BalanceCharged]:
    return [m for m in probe.of_type(contracts.BalanceCharged) if m.order_id == order_id]


def _failed(probe: MessageProbe, order_id: str) -> list[contracts.BalanceChargeFailed]:
    return [m for m in probe.of_type(contracts.BalanceChargeFailed) if m.order_id == order_id]


async def _told(probe: MessageProbe, order_id: str, *, charged: int = 0, failed: int = 0) -> None:
    """Wait until payments has told ``charged`` successes and ``failed`` failures for the order."""

    def counted() -> None:
        assert (len(_charged(probe, order_id)), len(_failed(probe, order_id))) == (charged, failed)

    await eventually(counted)


async def _refund(payments: Payments, order_id: str, amount: int, key: str) -> Any:
    return await payments.client.post(
        "/refunds",
        json={"order_id": order_id, "amount": amount, "reason": "customer cancelled", "idempotency_key": key},
    )


async def test_a_deposit_then_its_balance_are_two_captures_in_the_ledger(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await _checkout(broker, probe, "order-deposit", "tok_visa", amount=10_000)
    await _charge_balance(broker, "order-deposit", 29_000)
    charged = await probe.wait_for(contracts.BalanceCharged, lambda m: m.order_id == "order-deposit")
    assert (charged.group_id, charged.amount) == ("g-1", Money(29_000, "KRW"))

    view = await payments_of(payments.client, "order-deposit")
    assert (view["captured"], view["refunded"]) == (39_000, 0)
    assert [(p["step"], p["amount"], p["status"]) for p in view["items"]] == [
        ("full", 10_000, "succeeded"),
        ("balance:g-1", 29_000, "succeeded"),
    ]
    assert view["items"][1]["id"] == charged.payment_id
    deposit, balance = charges_of(payments.sandbox, "order-deposit")
    assert balance.idempotency_key == "order-deposit:balance:g-1"
    assert balance.amount == 29_000
    assert balance.result.approved
    assert deposit.result.psp_reference != balance.result.psp_reference  # a new charge, not a held one

    method = await payments.client.get("/payment-methods/order-deposit")
    assert method.status_code == 200, method.text
    assert method.json() == {"brand": "visa", "last4": "4242"}


async def test_pay_later_saves_a_verified_method_without_charging_and_charges_the_balance_later(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    succeeded = await _checkout(broker, probe, "order-later", "tok_mastercard", amount=0)
    assert (succeeded.amount, succeeded.card_brand, succeeded.card_last4) == (
        Money(0, "KRW"),
        "mastercard",
        "4444",
    )
    assert charges_of(payments.sandbox, "order-later") == []
    assert payments.sandbox.verifications == 1
    view = await payments_of(payments.client, "order-later")
    assert view["captured"] == 0
    assert [(p["amount"], p["status"]) for p in view["items"]] == [(0, "succeeded")]
    method = await payments.client.get("/payment-methods/order-later")
    assert method.json() == {"brand": "mastercard", "last4": "4444"}

    await _charge_balance(broker, "order-later", 39_000)
    await probe.wait_for(contracts.BalanceCharged, lambda m: m.order_id == "order-later")
    assert (await payments_of(payments.client, "order-later"))["captured"] == 39_000


async def test_a_method_that_fails_verification_fails_the_payment_and_is_not_saved(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    command = contracts.CapturePayment(
        order_id="order-bad-card",
        step="full",
        amount=Money(0, "KRW"),
        payment_token="tok_insufficient_funds",
        save_method=True,
    )
    await send(broker, command, subject="order-bad-card")
    failed = await probe.wait_for(contracts.PaymentFailed, lambda m: m.order_id == "order-bad-card")
    assert (failed.amount, failed.decline_code) == (Money(0, "KRW"), "insufficient_funds")
    assert (await payments.client.get("/payment-methods/order-bad-card")).status_code == 404


async def test_a_card_that_fails_later_pays_at_checkout_and_declines_the_balance(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await _checkout(broker, probe, "order-fails-later", "tok_fails_later", amount=10_000)
    await _charge_balance(broker, "order-fails-later", 29_000)
    failed = await probe.wait_for(contracts.BalanceChargeFailed, lambda m: m.order_id == "order-fails-later")
    assert (failed.decline_code, failed.requires_action) == ("card_declined", False)
    assert (failed.group_id, failed.amount) == ("g-1", Money(29_000, "KRW"))
    view = await payments_of(payments.client, "order-fails-later")
    assert view["captured"] == 10_000
    assert view["items"][1]["status"] == "failed"
    assert not _charged(probe, "order-fails-later")


async def test_a_card_that_needs_the_customer_fails_the_balance_asking_for_action(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await _checkout(broker, probe, "order-3ds", "tok_requires_action", amount=10_000)
    await _charge_balance(broker, "order-3ds", 29_000)
    failed = await probe.wait_for(contracts.BalanceChargeFailed, lambda m: m.order_id == "order-3ds")
    assert (failed.decline_code, failed.requires_action) == ("authentication_required", True)
    [_, attempt] = (await payments_of(payments.client, "order-3ds"))["items"]
    assert (attempt["status"], attempt["requires_action"]) == ("failed", True)


async def test_an_order_without_a_saved_method_fails_its_balance_without_charging(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await _charge_balance(broker, "order-nothing-saved", 29_000)
    failed = await probe.wait_for(
        contracts.BalanceChargeFailed, lambda m: m.order_id == "order-nothing-saved"
    )
    assert (failed.decline_code, failed.requires_action) == ("no_saved_method", False)
    assert charges_of(payments.sandbox, "order-nothing-saved") == []


async def test_a_balance_asked_for_again_is_charged_and_told_once(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await _checkout(broker, probe, "order-balance-twice", "tok_visa", amount=10_000)
    # Back to back, so the two may be handled at the same time.
    await _charge_balance(broker, "order-balance-twice", 29_000)
    await _charge_balance(broker, "order-balance-twice", 29_000)
    await _told(probe, "order-balance-twice", charged=1)
    await _charge_balance(broker, "order-balance-twice", 29_000)
    await worker_idle()

    await _told(probe, "order-balance-twice", charged=1)
    balance_charges = [
        c for c in charges_of(payments.sandbox, "order-balance-twice") if ":balance:" in c.idempotency_key
    ]
    assert len(balance_charges) == 1
    assert (await payments_of(payments.client, "order-balance-twice"))["captured"] == 39_000


async def test_a_copy_of_an_ask_already_declined_is_no_retry_and_charges_nothing(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    """The same ask delivered again under another message id after its attempt declined (a late copy, a
    re-publish) is the ask that attempt answered: no second charge attempt, no second decline told. Only an
    ask made after the decline (orders' dunning retry) is a new attempt."""
    order_id = "order-declined-copy"
    await _checkout(broker, probe, order_id, "tok_fails_later", amount=10_000)
    ask = contracts.ChargeBalance(order_id=order_id, group_id="g-1", amount=Money(29_000, "KRW"))
    envelope = await send(broker, ask, subject=order_id)
    await _told(probe, order_id, failed=1)
    await send_copy(broker, ask, envelope)
    await worker_idle()

    await _told(probe, order_id, failed=1)
    assert [c.idempotency_key for c in charges_of(payments.sandbox, order_id)] == [
        f"{order_id}:full",
        f"{order_id}:balance:g-1",
    ]
    await _charge_balance(broker, order_id, 29_000)  # a retry, asked after the decline
    await _told(probe, order_id, failed=2)
    assert charges_of(payments.sandbox, order_id)[-1].idempotency_key == f"{order_id}:balance:g-1:2"


async def test_a_declined_balance_is_retried_after_the_customer_replaces_the_card_and_succeeds_once(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    order_id = "order-dunning"
    await _checkout(broker, probe, order_id, "tok_fails_later", amount=10_000)
    await _charge_balance(broker, order_id, 29_000)
    await _told(probe, order_id, failed=1)
    # A scheduled retry with the same card is a new attempt, and declines again.
    await _charge_balance(broker, order_id, 29_000)
    await _told(probe, order_id, failed=2)

    replaced = await payments.client.put(f"/payment-methods/{order_id}", json={"token": "tok_visa"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() == {"brand": "visa", "last4": "4242"}
    updated = await probe.wait_for(contracts.PaymentMethodUpdated, lambda m: m.order_id == order_id)
    assert (updated.card_brand, updated.card_last4) == ("visa", "4242")  # orders retries on it; no token
    await _charge_balance(broker, order_id, 29_000)
    await _told(probe, order_id, charged=1, failed=2)
    await _charge_balance(broker, order_id, 29_000)  # asked again once paid: neither charged nor told
    await worker_idle()

    await _told(probe, order_id, charged=1, failed=2)
    assert len({m.payment_id for m in _failed(probe, order_id)}) == 2
    assert [(c.idempotency_key, c.result.approved) for c in charges_of(payments.sandbox, order_id)] == [
        (f"{order_id}:full", True),
        (f"{order_id}:balance:g-1", False),
        (f"{order_id}:balance:g-1:2", False),
        (f"{order_id}:balance:g-1:3", True),
    ]
    view = await payments_of(payments.client, order_id)
    assert view["captured"] == 39_000
    assert [(p["step"], p["status"], p["balance_attempt"]) for p in view["items"]] == [
        ("full", "succeeded", None),
        ("balance:g-1", "failed", 1),
        ("balance:g-1:2", "failed", 2),
        ("balance:g-1:3", "succeeded", 3),
    ]


async def test_replacing_a_saved_method_verifies_the_new_card_and_never_shows_a_token(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    missing = await payments.client.put("/payment-methods/order-unsaved", json={"token": "tok_visa"})
    assert missing.status_code == 404
    assert missing.json()["code"] == "no_saved_method"
    assert (await payments.client.get("/payment-methods/order-unsaved")).status_code == 404

    await _checkout(broker, probe, "order-replace", "tok_visa", amount=10_000)
    declined = await payments.client.put(
        "/payment-methods/order-replace", json={"token": "tok_card_declined"}
    )
    assert declined.status_code == 422
    assert declined.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in declined.json()["errors"]] == ["token"]
    assert "card_declined" in declined.json()["errors"][0]["message"]
    kept = await payments.client.get("/payment-methods/order-replace")
    assert kept.json() == {"brand": "visa", "last4": "4242"}

    replaced = await payments.client.put("/payment-methods/order-replace", json={"token": "tok_mastercard"})
    assert replaced.json() == {"brand": "mastercard", "last4": "4444"}
    shown = await payments.client.get("/payment-methods/order-replace")
    assert shown.json() == {"brand": "mastercard", "last4": "4444"}
    assert "tok_" not in shown.text
    assert "tok_" not in (await payments.client.get("/payments", params={"order_id": "order-replace"})).text


async def test_refunds_go_latest_capture_first_are_capped_by_the_captures_and_idempotent_by_key(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    order_id = "order-refunds"
    deposit = await _checkout(broker, probe, order_id, "tok_visa", amount=3_000, currency="USD")
    await _charge_balance(broker, order_id, 7_000, currency="USD")
    balance = await probe.wait_for(contracts.BalanceCharged, lambda m: m.order_id == order_id)

    first = await _refund(payments, order_id, 8_000, "cancel-1")
    assert first.status_code == 201, first.text
    refund = first.json()
    assert (refund["amount"], refund["currency"]) == (8_000, "USD")
    assert [(part["payment_id"], part["amount"]) for part in refund["parts"]] == [
        (balance.payment_id, 7_000),
        (deposit.payment_id, 1_000),
    ]
    again = await _refund(payments, order_id, 8_000, "cancel-1")
    assert again.status_code == 201
    assert again.json() == refund
    assert len(payments.sandbox.refunds) == 2  # one per capture, none for the repeated request

    reused = await _refund(payments, order_id, 1_000, "cancel-1")
    assert (reused.status_code, reused.json()["code"]) == (409, "idempotency_key_reused")
    too_much = await _refund(payments, order_id, 2_001, "cancel-2")
    assert (too_much.status_code, too_much.json()["code"]) == (409, "refund_exceeds_captured")
    assert (await _refund(payments, order_id, 2_000, "cancel-2")).status_code == 201
    nothing_left = await _refund(payments, order_id, 1, "cancel-3")
    assert nothing_left.status_code == 409
    assert len(payments.sandbox.refunds) == 3

    view = await payments_of(payments.client, order_id)
    assert (view["captured"], view["refunded"]) == (10_000, 10_000)
    assert [(r["amount"], r["idempotency_key"], r["reason"]) for r in view["refunds"]] == [
        (8_000, "cancel-1", "customer cancelled"),
        (2_000, "cancel-2", "customer cancelled"),
    ]
    assert view["refunds"][0]["parts"] == refund["parts"]
    assert {p["id"]: p["refunded"] for p in view["items"]} == {
        deposit.payment_id: 3_000,
        balance.payment_id: 7_000,
    }


async def test_nothing_captured_means_nothing_to_refund(payments: Payments) -> None:
    response = await _refund(payments, "order-never-paid", 100, "cancel-never-paid")
    assert (response.status_code, response.json()["code"]) == (409, "refund_exceeds_captured")
    invalid = await _refund(payments, "order-never-paid", 0, "cancel-zero")
    assert invalid.status_code == 422
    assert [error["field"] for error in invalid.json()["errors"]] == ["amount"]


def _counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_captured_money_and_refunds_are_counted_by_kind_currency_and_reason(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    captured = "shop_payments_captured_minor_units_total"
    before = {
        kind: _counted(captured, currency="USD", kind=kind) for kind in ("checkout", "deposit", "balance")
    }
    refunded_before = _counted("shop_payments_refunded_minor_units_total", currency="USD")
    refunds_before = _counted("shop_payments_refunds_total", reason="customer cancelled")

    paid_in_full = contracts.CapturePayment(
        order_id="order-counted-full", step="full", amount=Money(2_500, "USD"), payment_token="tok_visa"
    )
    await send(broker, paid_in_full, subject="order-counted-full")
    await send(broker, paid_in_full, subject="order-counted-full")  # asked again: told, not counted again
    await _checkout(broker, probe, "order-counted", "tok_visa", amount=1_000, currency="USD")
    await _charge_balance(broker, "order-counted", 4_000, currency="USD")
    await probe.wait_for(contracts.BalanceCharged, lambda m: m.order_id == "order-counted")
    declined = contracts.CapturePayment(
        order_id="order-counted-declined",
        step="full",
        amount=Money(9_999, "USD"),
        payment_token="tok_card_declined",
    )
    await send(broker, declined, subject="order-counted-declined")
    await probe.wait_for(contracts.PaymentFailed, lambda m: m.order_id == "order-counted-declined")
    await worker_idle()

    def captures_counted() -> None:
        after = {kind: _counted(captured, currency="USD", kind=kind) - before[kind] for kind in before}
        assert after == {"checkout": 2_500, "deposit": 1_000, "balance": 4_000}

    await eventually(captures_counted)
    assert (await _refund(payments, "order-counted", 3_000, "counted-1")).status_code == 201
    assert (
        await _refund(payments, "order-counted", 3_000, "counted-1")
    ).status_code == 201  # the same refund
    assert _counted("shop_payments_refunded_minor_units_total", currency="USD") - refunded_before == 3_000
    assert _counted("shop_payments_refunds_total", reason="customer cancelled") - refunds_before == 1


async def test_a_bank_transfer_is_a_capture_in_the_ledger_refunded_without_the_psp(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    order_id = "order-bank-transfer"
    command = contracts.CapturePayment(
        order_id=order_id,
        step="full",
        amount=Money(74_100, "KRW"),
        payment_token="bank-transfer:KB-7",
        bank_transfer_reference="KB-7",
    )
    await send(broker, command, subject=order_id)
    succeeded = await probe.wait_for(contracts.PaymentSucceeded, lambda m: m.order_id == order_id)
    assert succeeded.amount == Money(74_100, "KRW")
    assert charges_of(payments.sandbox, order_id) == []

    refunded = await _refund(payments, order_id, 4_100, "cancel-bank")
    assert refunded.status_code == 201, refunded.text
    assert payments.sandbox.refunds == []
    view = await payments_of(payments.client, order_id)
    assert (view["captured"], view["refunded"]) == (74_100, 4_100)


def _refunds_told(
    probe: MessageProbe, order_id: str
) -> tuple[list[contracts.RefundIssued], list[contracts.RefundRejected]]:
    return (
        [m for m in probe.of_type(contracts.RefundIssued) if m.order_id == order_id],
        [m for m in probe.of_type(contracts.RefundRejected) if m.order_id == order_id],
    )


async def test_a_refund_asked_again_under_another_message_id_is_given_and_told_once(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    order_id = "order-refund-copy"
    await _checkout(broker, probe, order_id, "tok_visa", amount=10_000)
    ask = contracts.IssueRefund(
        order_id=order_id, amount=Money(4_000, "KRW"), reason="changed_mind", idempotency_key="cancel-copy"
    )
    sent = await send(broker, ask, subject=order_id)
    await probe.wait_for(contracts.RefundIssued, lambda m: m.order_id == order_id)
    await send_copy(broker, ask, sent)
    await send(broker, ask, subject=order_id)  # asked once more, made later: the same key, the same refund
    await worker_idle()

    issued, rejected = _refunds_told(probe, order_id)
    assert [(m.amount, m.idempotency_key) for m in issued] == [(Money(4_000, "KRW"), "cancel-copy")]
    assert rejected == []
    assert [r.amount for r in payments.sandbox.refunds if r.idempotency_key.startswith("cancel-copy:")] == [
        4_000
    ]
    view = await payments_of(payments.client, order_id)
    assert (view["captured"], view["refunded"]) == (10_000, 4_000)


async def test_a_refused_refund_stays_refused_and_is_told_once_even_after_more_is_captured(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    """A refund asked for more than is captured is refused once; a copy arriving after a later capture
    (which would now cover it) changes nothing: the refusal was told, and money never follows it."""
    order_id = "order-refund-refused"
    await _checkout(broker, probe, order_id, "tok_visa", amount=3_000)
    ask = contracts.IssueRefund(
        order_id=order_id, amount=Money(5_000, "KRW"), reason="changed_mind", idempotency_key="cancel-over"
    )
    sent = await send(broker, ask, subject=order_id)
    refused = await probe.wait_for(contracts.RefundRejected, lambda m: m.order_id == order_id)
    assert refused.error.startswith("RefundExceedsCaptured")
    await _charge_balance(broker, order_id, 7_000, group_id="g-1")
    await _told(probe, order_id, charged=1)
    await send_copy(broker, ask, sent)
    await worker_idle()

    issued, rejected = _refunds_told(probe, order_id)
    assert (issued, len(rejected)) == ([], 1)
    assert not [r for r in payments.sandbox.refunds if r.idempotency_key.startswith("cancel-over")]
    view = await payments_of(payments.client, order_id)
    assert (view["captured"], view["refunded"]) == (10_000, 0)
    again = await _refund(payments, order_id, 5_000, "cancel-over")
    assert (again.status_code, again.json()["code"]) == (409, "refund_rejected")
    other = await _refund(payments, order_id, 1_000, "cancel-over")
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
