"""Payments' pure rules: money, the one key per order step, what a payment puts in the ledger, balance
attempts and how a refund is split over the captures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shop_contracts.money import CurrencyMismatch, Money
from shop_payments.domain import (
    BalanceAttempt,
    Capture,
    Card,
    Decline,
    InvalidAmount,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentStatus,
    Refund,
    RefundExceedsCaptured,
    RefundPart,
    SavedMethod,
    answer_to_balance_ask,
    balance_of,
    balance_step,
    idempotency_key,
    next_balance_attempt,
    refund_parts,
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
            order_id="order-1",
            payment_id=payment.id,
            kind=LedgerKind.CAPTURE,
            amount=Money(39000, "KRW"),
            psp_reference="ref",
        )
    ]


def test_a_declined_charge_failed_and_moved_no_money() -> None:
    payment = _payment(decline=Decline(code="card_declined", message="declined"))
    assert payment.status is PaymentStatus.FAILED
    assert not payment.succeeded
    assert payment.ledger_entries() == []


def test_a_payment_cannot_be_negative() -> None:
    with pytest.raises(InvalidAmount):
        _payment(amount=Money(-1, "KRW"))


def test_a_payment_of_nothing_verified_the_method_and_moved_no_money() -> None:
    payment = _payment(amount=Money(0, "KRW"))
    assert payment.succeeded
    assert payment.ledger_entries() == []


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


def test_the_first_balance_attempt_keeps_the_plain_step_and_retries_are_numbered() -> None:
    assert balance_step(group_id="g-1", attempt=1) == "balance:g-1"
    assert balance_step(group_id="g-1", attempt=2) == "balance:g-1:2"
    assert idempotency_key(order_id="o-1", step=balance_step(group_id="g-1", attempt=1)) == "o-1:balance:g-1"
    with pytest.raises(ValueError, match="attempts count from 1"):
        balance_step(group_id="g-1", attempt=0)


def _attempt(number: int, *, declined: bool, recorded_at: datetime | None = None) -> Payment:
    return Payment(
        id=uuid.uuid4(),
        order_id="order-1",
        step=balance_step(group_id="g-1", attempt=number),
        amount=Money(29_000, "KRW"),
        psp_reference="ref",
        decline=Decline("card_declined", "declined") if declined else None,
        balance=BalanceAttempt("g-1", number),
        recorded_at=recorded_at,
    )


def test_a_group_never_charged_gets_its_first_attempt() -> None:
    assert next_balance_attempt([]) == 1


def test_a_declined_group_gets_the_next_attempt() -> None:
    attempts = [_attempt(1, declined=True), _attempt(2, declined=True)]
    assert next_balance_attempt(attempts) == 3


def test_a_group_once_charged_is_told_that_charge_and_never_charged_again() -> None:
    charged = _attempt(2, declined=False)
    assert next_balance_attempt([_attempt(1, declined=True), charged]) is charged


NOON = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_an_ask_for_an_attempt_already_made_is_a_copy_and_the_next_one_is_a_retry() -> None:
    first = _attempt(1, declined=True, recorded_at=NOON)
    second = _attempt(2, declined=True, recorded_at=NOON + timedelta(days=1))
    assert answer_to_balance_ask([], attempt=1) == 1
    assert answer_to_balance_ask([first], attempt=1) is first
    assert answer_to_balance_ask([first, second], attempt=1) is second  # a late copy of the first ask
    assert answer_to_balance_ask([first], attempt=2) == 2
    # The number decides, whatever the clocks say.
    assert answer_to_balance_ask([first], attempt=1, asked_at=NOON + timedelta(days=3)) is first
    assert answer_to_balance_ask([first], attempt=2, asked_at=NOON - timedelta(days=3)) == 2


def test_an_ask_made_before_the_latest_declined_attempt_is_the_ask_it_answered() -> None:
    first = _attempt(1, declined=True, recorded_at=NOON)
    second = _attempt(2, declined=True, recorded_at=NOON + timedelta(days=1))
    # the first ask, or a copy of it under another message id, arriving after either attempt
    assert answer_to_balance_ask([first], asked_at=NOON - timedelta(seconds=1)) is first
    assert answer_to_balance_ask([first, second], asked_at=NOON - timedelta(seconds=1)) is second
    # the dunning retry that made the second attempt, arriving again
    assert answer_to_balance_ask([first, second], asked_at=NOON + timedelta(hours=23)) is second


def test_an_ask_made_after_the_latest_decline_is_a_new_attempt() -> None:
    first = _attempt(1, declined=True, recorded_at=NOON)
    assert answer_to_balance_ask([], asked_at=NOON) == 1
    assert answer_to_balance_ask([first], asked_at=NOON + timedelta(hours=24)) == 2
    assert answer_to_balance_ask([first], asked_at=None) == 2  # no time known: every ask is a retry


def test_a_paid_group_answers_every_ask_with_its_charge_whenever_it_was_made() -> None:
    charged = _attempt(2, declined=False, recorded_at=NOON)
    attempts = [_attempt(1, declined=True, recorded_at=NOON - timedelta(days=1)), charged]
    for asked_at in (None, NOON - timedelta(days=2), NOON + timedelta(days=2)):
        assert answer_to_balance_ask(attempts, asked_at=asked_at) is charged


def test_a_saved_method_never_shows_its_token() -> None:
    method = SavedMethod(order_id="order-1", token="tok_secret", card=Card("visa", "4242"))
    assert "tok_secret" not in repr(method)
    assert "4242" in repr(method)


def _capture(amount: int, refunded: int = 0, currency: str = "USD") -> Capture:
    return Capture(
        payment_id=uuid.uuid4(),
        psp_reference=f"ch-{amount}",
        amount=Money(amount, currency),
        refunded=Money(refunded, currency),
    )


def test_a_refund_goes_against_the_latest_capture_first() -> None:
    deposit, balance = _capture(3_000), _capture(7_000)
    [part] = refund_parts([deposit, balance], Money(5_000, "USD"))
    assert (part.payment_id, part.charge_reference, part.amount) == (
        balance.payment_id,
        "ch-7000",
        Money(5_000, "USD"),
    )


def test_a_refund_larger_than_the_latest_capture_spills_onto_the_earlier_ones() -> None:
    deposit, balance = _capture(3_000), _capture(7_000)
    parts = refund_parts([deposit, balance], Money(8_000, "USD"))
    assert [(part.payment_id, part.amount.amount) for part in parts] == [
        (balance.payment_id, 7_000),
        (deposit.payment_id, 1_000),
    ]


def test_a_refund_skips_what_is_already_refunded() -> None:
    deposit, balance = _capture(3_000), _capture(7_000, refunded=6_500)
    parts = refund_parts([deposit, balance], Money(1_000, "USD"))
    assert [(part.payment_id, part.amount.amount) for part in parts] == [
        (balance.payment_id, 500),
        (deposit.payment_id, 500),
    ]


def test_a_refund_may_give_back_exactly_what_is_left() -> None:
    captures = [_capture(3_000, refunded=1_000), _capture(7_000)]
    assert sum(part.amount.amount for part in refund_parts(captures, Money(9_000, "USD"))) == 9_000


@pytest.mark.parametrize(
    ("captures", "amount"),
    [
        ([], 1),
        ([_capture(3_000)], 3_001),
        ([_capture(3_000, refunded=3_000), _capture(7_000, refunded=2_000)], 5_001),
    ],
)
def test_a_refund_never_exceeds_what_was_captured_minus_refunded(
    captures: list[Capture], amount: int
) -> None:
    with pytest.raises(RefundExceedsCaptured):
        refund_parts(captures, Money(amount, "USD"))


@pytest.mark.parametrize("amount", [0, -100])
def test_a_refund_is_of_more_than_nothing(amount: int) -> None:
    with pytest.raises(InvalidAmount):
        refund_parts([_capture(3_000)], Money(amount, "USD"))


def test_a_refund_is_in_the_currency_of_the_captures() -> None:
    with pytest.raises(CurrencyMismatch):
        refund_parts([_capture(3_000, currency="KRW")], Money(1_000, "USD"))


def test_a_refund_puts_one_refund_entry_per_capture_in_the_ledger() -> None:
    deposit, balance = _capture(3_000), _capture(7_000)
    parts = refund_parts([deposit, balance], Money(8_000, "USD"))
    refund = Refund(
        id=uuid.uuid4(),
        order_id="order-1",
        idempotency_key="cancel-1",
        amount=Money(8_000, "USD"),
        reason="cancelled",
        parts=tuple(
            RefundPart(p.payment_id, p.charge_reference, p.amount, refund_reference=f"re-{i}")
            for i, p in enumerate(parts)
        ),
    )
    entries = refund.ledger_entries()
    assert [(e.kind, e.payment_id, e.amount.amount, e.refund_id, e.psp_reference) for e in entries] == [
        (LedgerKind.REFUND, balance.payment_id, 7_000, refund.id, "re-0"),
        (LedgerKind.REFUND, deposit.payment_id, 1_000, refund.id, "re-1"),
    ]
    balance_after = balance_of(
        [*entries, LedgerEntry("order-1", deposit.payment_id, LedgerKind.CAPTURE, Money(3_000, "USD"))],
        currency="USD",
    )
    assert balance_after.refunded == Money(8_000, "USD")
    assert refund.answers(order_id="order-1", amount=8_000)
    assert not refund.answers(order_id="order-1", amount=7_000)
    assert not refund.answers(order_id="order-2", amount=8_000)


def test_a_refund_whose_parts_do_not_add_up_is_an_error() -> None:
    with pytest.raises(InvalidAmount):
        Refund(
            id=uuid.uuid4(),
            order_id="order-1",
            idempotency_key="k",
            amount=Money(100, "USD"),
            reason="r",
            parts=(RefundPart(uuid.uuid4(), "ch", Money(99, "USD")),),
        )
