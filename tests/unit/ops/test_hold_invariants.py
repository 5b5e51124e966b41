"""The audit's card-hold checks on rows written by hand: a hold never gives more than it authorised, nothing is
captured of it once it lapsed or was voided whole, and an order whose lapsed hold could not be charged waits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from shop_ops import invariants
from shop_ops.durations import age
from shop_ops.invariants import Severity
from shop_ops.rows import HoldLedger, HoldMovement, UnpaidHold

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _hold(order_id: str, *movements: tuple[str, int]) -> HoldLedger:
    return HoldLedger(uuid.uuid4(), order_id, tuple(HoldMovement(kind, amount) for kind, amount in movements))


def test_a_hold_captured_in_parts_and_released_passes() -> None:
    fine = _hold("o-fine", ("authorization", 100), ("capture", 40), ("void", 10), ("capture", 50))
    expired = _hold("o-replaced", ("authorization", 100), ("expiry", 100))
    assert invariants.holds_within_authorised([fine, expired]) == []


def test_capturing_more_than_authorised_is_a_violation() -> None:
    over = _hold("o-over", ("authorization", 100), ("capture", 80), ("void", 30))
    [finding] = invariants.holds_within_authorised([over])
    assert finding.message == "hold captured 80 + voided 30 + expired 0 exceed authorised 100"
    assert finding.ids == {"order": "o-over", "authorization": str(over.authorization_id)}
    assert finding.severity is Severity.VIOLATION


def test_a_capture_after_the_hold_lapsed_or_was_voided_whole_is_a_violation() -> None:
    lapsed = _hold("o-lapsed", ("authorization", 100), ("expiry", 60), ("capture", 40))
    voided = _hold("o-voided", ("authorization", 100), ("void", 100), ("capture", 1))
    findings = invariants.holds_within_authorised([lapsed, voided])
    assert [(f.ids["order"], f.message) for f in findings] == [
        ("o-lapsed", "captured 40 after the hold was expired"),
        ("o-voided", "hold captured 1 + voided 100 + expired 0 exceed authorised 100"),
        ("o-voided", "captured 1 after the hold was voided"),
    ]


def test_an_order_whose_lapsed_hold_could_not_be_charged_is_shown_waiting() -> None:
    unpaid = UnpaidHold("o-unpaid", 39000, "KRW", "card_declined", NOW - timedelta(hours=3))
    [finding] = invariants.holds_paid([unpaid], now=NOW)
    assert finding.severity is Severity.WAITING
    assert finding.ids == {"order": "o-unpaid"}
    assert "off-session charge of 39000 KRW failed (card_declined)" in finding.message


def test_an_order_dunned_several_times_is_one_finding_with_its_last_decline() -> None:
    tried = [
        UnpaidHold("o-dunned", 39000, "KRW", "card_declined", NOW - timedelta(hours=49)),
        UnpaidHold("o-dunned", 39000, "KRW", "insufficient_funds", NOW - timedelta(hours=1)),
        UnpaidHold("o-dunned", 39000, "KRW", "card_declined", NOW - timedelta(hours=25)),
    ]
    [finding] = invariants.holds_paid(tried, now=NOW)
    assert finding.ids == {"order": "o-dunned"}
    assert "failed (insufficient_funds, tried 3 times)" in finding.message
    assert finding.message.endswith(f"{age(timedelta(hours=49))} ago")
