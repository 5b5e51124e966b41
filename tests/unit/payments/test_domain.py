"""Payments' pure rules: money, the one key per order step, and what a payment puts in the ledger."""

from __future__ import annotations

import uuid

import pytest

from shop_payments.domain import (
    Card,
    CurrencyMismatch,
    Decline,
    InvalidAmount,
    LedgerEntry,
    LedgerKind,
    Money,
    Payment,
    PaymentStatus,
    balance_of,
    idempotency_key,
)


def _payment(*, decline: Decline | None = None, amount: Money | None = None) -> Payment:
    return Payment(
        id=uuid.uuid4(),
        order_id="order-1",
        step="full",
        amount=amount or Money(39000, "KRW"),
        psp_reference="ref",
        decline=decline,
        card=Card(brand="visa", last4="4242"),
    )


def test_the_psp_key_is_the_order_and_its_step() -> None:
    assert idempotency_key(order_id="order-1", step="full") == "order-1:full"


def test_money_adds_within_one_currency_only() -> None:
    assert Money(1000, "USD") + Money(250, "USD") == Money(1250, "USD")
    with pytest.raises(CurrencyMismatch):
        Money(1000, "USD") + Money(1000, "KRW")


@pytest.mark.parametrize("currency", ["usd", "US", "EURO", ""])
def test_money_needs_an_iso_currency_code(currency: str) -> None:
    with pytest.raises(CurrencyMismatch):
        Money(1, currency)


def test_a_charge_the_psp_approved_is_a_capture_in_the_ledger() -> None:
    payment = _payment()
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.ledger_entries() == [
        LedgerEntry(
            order_id="order-1", payment_id=payment.id, kind=LedgerKind.CAPTURE, amount=Money(39000, "KRW")
        )
    ]


def test_a_declined_charge_failed_and_moved_no_money() -> None:
    payment = _payment(decline=Decline(code="card_declined", message="declined"))
    assert payment.status is PaymentStatus.FAILED
    assert not payment.succeeded
    assert payment.ledger_entries() == []


@pytest.mark.parametrize("amount", [0, -1])
def test_a_payment_is_of_more_than_nothing(amount: int) -> None:
    with pytest.raises(InvalidAmount):
        _payment(amount=Money(amount, "KRW"))


def test_the_balance_sums_captures_and_refunds() -> None:
    payment_id = uuid.uuid4()
    entries = [
        LedgerEntry("order-1", payment_id, LedgerKind.CAPTURE, Money(10_000, "KRW")),
        LedgerEntry("order-1", payment_id, LedgerKind.CAPTURE, Money(29_000, "KRW")),
        LedgerEntry("order-1", payment_id, LedgerKind.REFUND, Money(5_000, "KRW")),
    ]
    balance = balance_of(entries, currency="KRW")
    assert balance.captured == Money(39_000, "KRW")
    assert balance.refunded == Money(5_000, "KRW")
    assert balance.net == Money(34_000, "KRW")


def test_an_empty_ledger_balances_to_zero() -> None:
    balance = balance_of([], currency="USD")
    assert (balance.captured, balance.refunded) == (Money(0, "USD"), Money(0, "USD"))


def test_a_ledger_in_two_currencies_is_an_error() -> None:
    entries = [LedgerEntry("order-1", uuid.uuid4(), LedgerKind.CAPTURE, Money(100, "USD"))]
    with pytest.raises(CurrencyMismatch):
        balance_of(entries, currency="KRW")
