"""The rules of card holds: what a hold still holds, what each shipment captures of it, and how money asked back
is released from the hold before any capture is refunded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shop_contracts.money import CurrencyMismatch, Money
from shop_payments.domain import (
    Capture,
    LedgerKind,
    Payment,
    PaymentKind,
    Refund,
    RefundExceedsCaptured,
    balance_of,
)
from shop_payments.holds import (
    CaptureExceedsHold,
    Hold,
    OrderTerms,
    ShipmentFact,
    capture_step,
    money_back_parts,
    new_capture,
    nothing_left_to_ship,
    settle_at,
    shipment_captures,
)


def krw(amount: int) -> Money:
    return Money(amount, "KRW")


def authorization(amount: int = 100_000) -> Payment:
    return Payment(
        id=uuid.uuid4(),
        order_id="o-1",
        step="full",
        amount=krw(amount),
        psp_reference="sandbox_auth_o_1_x",
        kind=PaymentKind.AUTHORIZATION,
    )


def hold(
    amount: int = 100_000,
    *,
    captured: int = 0,
    voided: int = 0,
    expired: int = 0,
    captures: tuple[Payment, ...] = (),
) -> Hold:
    return Hold(authorization(amount), krw(captured), krw(voided), krw(expired), captures=captures)


def captured(of: Hold, step: str, amount: int) -> Payment:
    return Payment(
        id=uuid.uuid4(),
        order_id="o-1",
        step=step,
        amount=krw(amount),
        psp_reference=f"cap-{step}",
        kind=PaymentKind.CAPTURE,
        authorization_id=of.authorization.id,
    )


# Two shirts at 40 000 and a cap at 10 000 (subtotal 90 000), shipping 10 000: total 100 000.
TERMS = OrderTerms(
    order_id="o-1",
    currency="KRW",
    subtotal=90_000,
    total=100_000,
    units={"SHIRT": 2, "CAP": 1},
    prices={"SHIRT": 40_000, "CAP": 10_000},
)


def test_a_hold_holds_what_was_authorised_less_what_was_captured_released_or_lapsed() -> None:
    assert hold(100_000, captured=30_000, voided=20_000, expired=5_000).open == krw(45_000)


def test_a_capture_never_takes_more_than_the_hold_still_holds() -> None:
    with pytest.raises(CaptureExceedsHold) as refused:
        hold(100_000, captured=60_000).check_capture(krw(40_001))
    assert refused.value.field == "amount"
    hold(100_000, captured=60_000).check_capture(krw(40_000))


def test_nothing_is_captured_of_a_hold_that_lapsed_or_was_voided_whole() -> None:
    with pytest.raises(CaptureExceedsHold):
        hold(100_000, expired=100_000).check_capture(krw(1))
    with pytest.raises(CaptureExceedsHold):
        hold(100_000, voided=100_000).check_capture(krw(1))
    with pytest.raises(CurrencyMismatch):
        hold().check_capture(Money(1, "USD"))


def test_one_shipment_of_everything_captures_the_whole_hold() -> None:
    [planned] = shipment_captures(TERMS, [ShipmentFact("g-1", {"SHIRT": 2, "CAP": 1})], hold())
    assert (planned.step, planned.amount) == (capture_step("g-1"), krw(100_000))


def test_each_shipment_captures_its_share_and_the_last_one_what_is_left() -> None:
    first = ShipmentFact("g-1", {"SHIRT": 1})
    [share] = shipment_captures(TERMS, [first], hold())
    # 40 000 of goods at 100 000 / 90 000, rounded half up.
    assert share.amount == krw(44_444)
    after_first = hold(captured=44_444, captures=(captured(hold(), capture_step("g-1"), 44_444),))
    second = ShipmentFact("g-2", {"SHIRT": 1, "CAP": 1})
    [rest] = shipment_captures(TERMS, [first, second], after_first)
    assert rest.amount == krw(55_556)


def test_a_short_pick_released_first_leaves_the_shipment_to_capture_the_rest() -> None:
    # The cap was short: orders asked 10 000 back, released from the hold; the shirts ship and take the rest.
    released = hold(voided=10_000)
    shipment = ShipmentFact("g-1", {"SHIRT": 2}, short={"CAP": 1})
    assert nothing_left_to_ship(TERMS, [shipment])
    [planned] = shipment_captures(TERMS, [shipment], released, shorts_answered=1)
    assert planned.amount == krw(90_000)


def test_the_last_shipment_waits_while_orders_has_not_answered_for_its_short_units() -> None:
    # The shipment came first: taking all the hold holds would take the cap's 10 000 too, and refund it later.
    shipment = ShipmentFact("g-1", {"SHIRT": 2}, short={"CAP": 1})
    assert shipment_captures(TERMS, [shipment], hold(), shorts_answered=0) == []
    # Once orders' ask is answered (released, or refused), the shipment takes what the hold still holds.
    [planned] = shipment_captures(TERMS, [shipment], hold(voided=10_000), shorts_answered=1)
    assert planned.amount == krw(90_000)


def test_an_earlier_shipment_takes_its_share_while_the_last_waits_for_the_short_units() -> None:
    first, last = ShipmentFact("g-1", {"SHIRT": 1}), ShipmentFact("g-2", {"SHIRT": 1}, short={"CAP": 1})
    [share] = shipment_captures(TERMS, [first, last], hold(), shorts_answered=0)
    assert (share.step, share.amount) == (capture_step("g-1"), krw(44_444))


def test_shipments_after_the_hold_was_replaced_capture_nothing() -> None:
    [planned] = shipment_captures(TERMS, [ShipmentFact("g-1", {"SHIRT": 2, "CAP": 1})], hold(expired=100_000))
    assert planned.amount == krw(0)
    assert new_capture(hold(expired=100_000), step=planned.step, amount=planned.amount).amount == krw(0)


def test_a_shipment_captured_before_is_not_planned_again() -> None:
    first = ShipmentFact("g-1", {"SHIRT": 2, "CAP": 1})
    done = hold(captured=100_000, captures=(captured(hold(), capture_step("g-1"), 100_000),))
    assert shipment_captures(TERMS, [first], done) == []


def test_money_asked_back_is_released_from_the_hold_before_any_capture_is_refunded() -> None:
    of = hold(100_000, captured=44_444)
    capture = Capture(uuid.uuid4(), "cap-1", krw(44_444), refunded=krw(0))
    parts = money_back_parts([of], [capture], krw(60_000))
    assert [(part.voided, part.amount) for part in parts] == [(True, krw(55_556)), (False, krw(4_444))]
    assert parts[0].payment_id == of.authorization.id


def test_a_cancellation_before_any_capture_only_voids() -> None:
    [part] = money_back_parts([hold()], [], krw(100_000))
    assert part.voided
    assert part.amount == krw(100_000)


def test_more_back_than_held_and_captured_is_refused_whole() -> None:
    with pytest.raises(RefundExceedsCaptured):
        money_back_parts([hold(100_000, voided=100_000)], [], krw(1))


def test_a_refund_with_released_parts_records_voids_and_the_balance_ignores_holds() -> None:
    of = hold()
    capture = captured(of, capture_step("g-1"), 40_000)
    parts = money_back_parts(
        [hold(captured=40_000)], [Capture(capture.id, "cap-g-1", krw(40_000), krw(0))], krw(70_000)
    )
    refund = Refund(uuid.uuid4(), "o-1", "cancel:o-1", krw(70_000), "changed_mind", tuple(parts))
    assert refund.voided == krw(60_000)
    entries = of.authorization.ledger_entries() + capture.ledger_entries() + refund.ledger_entries()
    assert [entry.kind for entry in entries] == [
        LedgerKind.AUTHORIZATION,
        LedgerKind.CAPTURE,
        LedgerKind.VOID,
        LedgerKind.REFUND,
    ]
    balance = balance_of(entries, currency="KRW")
    assert (balance.captured, balance.refunded) == (krw(40_000), krw(10_000))


def test_only_captures_and_replacements_belong_to_a_hold() -> None:
    with pytest.raises(ValueError, match="belong to a hold"):
        Payment(uuid.uuid4(), "o-1", "capture:g", krw(1), None, kind=PaymentKind.CAPTURE)
    with pytest.raises(ValueError, match="belong to a hold"):
        Payment(uuid.uuid4(), "o-1", "full", krw(1), None, authorization_id=uuid.uuid4())


def test_a_hold_is_settled_a_margin_before_it_lapses_never_before_it_was_placed() -> None:
    placed = datetime(2025, 3, 1, tzinfo=UTC)
    week = placed + timedelta(days=7)
    assert settle_at(authorised_at=placed, expires_at=week, margin=timedelta(hours=24)) == week - timedelta(
        hours=24
    )
    early = placed + timedelta(minutes=1)
    assert settle_at(authorised_at=placed, expires_at=early, margin=timedelta(hours=24)) == placed
    assert settle_at(authorised_at=placed, expires_at=None, margin=timedelta(hours=24)) is None
