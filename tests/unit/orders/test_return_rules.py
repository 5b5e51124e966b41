"""Orders' return rules without I/O: the return window, how many units may come back, and what a received
return refunds after its discount share and the fees its reason carries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop_contracts.money import Money
from shop_orders.core.errors import ReturnRefused
from shop_orders.returns.domain import (
    RETURN_REASONS,
    ReturnedUnits,
    check_return_lines,
    refund_for_return,
    return_window_closes,
)

SHIPPED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_the_window_counts_from_delivery() -> None:
    delivered = SHIPPED + timedelta(days=3)
    assert return_window_closes(shipped_at=SHIPPED, delivered_at=delivered, days=30) == delivered + timedelta(
        days=30
    )


def test_a_shipment_not_delivered_counts_from_shipment() -> None:
    assert return_window_closes(shipped_at=SHIPPED, delivered_at=None, days=30) == SHIPPED + timedelta(
        days=30
    )


def test_units_within_what_may_come_back_pass() -> None:
    check_return_lines([("TEE-1", 2), ("CAP-1", 1)], {"TEE-1": 2, "CAP-1": 3})


@pytest.mark.parametrize(
    ("requested", "returnable", "field", "says"),
    [
        ([("TEE-1", 3)], {"TEE-1": 2}, "lines[0].quantity", "only 2 unit(s) of TEE-1"),
        ([("CAP-1", 1), ("TEE-1", 1)], {"CAP-1": 1, "TEE-1": 0}, "lines[1].quantity", "only 0 unit(s)"),
        ([("MUG-1", 1)], {"TEE-1": 2}, "lines[0].sku", "did not ship"),
        ([("TEE-1", 1), ("TEE-1", 1)], {"TEE-1": 2}, "lines[1].sku", "named twice"),
    ],
)
def test_more_than_may_come_back_is_refused_naming_the_line(
    requested: list[tuple[str, int]], returnable: dict[str, int], field: str, says: str
) -> None:
    with pytest.raises(ReturnRefused, match=says.replace("(", r"\(").replace(")", r"\)")) as refused:
        check_return_lines(requested, returnable)
    assert refused.value.field == field


def _refund(
    reason: str, *units: ReturnedUnits, discount: int = 0, refundable: int = 1_000_000
) -> tuple[int, ...]:
    outcome = refund_for_return(
        currency="USD",
        units=list(units),
        reason=reason,
        subtotal=Money(100_000, "USD"),
        discount=Money(discount, "USD"),
        return_shipping_fee=3000,
        restocking_fee_percent=10,
        refundable=Money(refundable, "USD"),
    )
    return tuple(
        money.amount
        for money in (outcome.value, outcome.return_shipping_fee, outcome.restocking_fee, outcome.refund)
    )


@pytest.mark.parametrize("reason", ["damaged", "wrong_item", "not_as_described"])
def test_the_shops_mistakes_cost_the_customer_nothing(reason: str) -> None:
    assert _refund(reason, ReturnedUnits(unit_price=25_000, quantity=2, condition="resellable")) == (
        50_000,
        0,
        0,
        50_000,
    )


@pytest.mark.parametrize("reason", ["size", "other"])
def test_the_customers_reasons_pay_the_return_shipping(reason: str) -> None:
    assert _refund(reason, ReturnedUnits(unit_price=25_000, quantity=1, condition="resellable")) == (
        25_000,
        3000,
        0,
        22_000,
    )


def test_a_changed_mind_pays_shipping_and_restocking_on_resellable_units_only() -> None:
    outcome = _refund(
        "changed_mind",
        ReturnedUnits(unit_price=30_000, quantity=1, condition="resellable"),
        ReturnedUnits(unit_price=20_000, quantity=1, condition="damaged"),
    )
    # 10% of the resellable 30,000; shipping 3,000.
    assert outcome == (50_000, 3000, 3000, 44_000)


def test_the_discount_share_comes_off_before_the_fees() -> None:
    # A 10% order discount: 10,000 of a 100,000 subtotal, so 5,000 of these 50,000.
    outcome = _refund(
        "changed_mind", ReturnedUnits(unit_price=25_000, quantity=2, condition="resellable"), discount=10_000
    )
    assert outcome == (45_000, 3000, 4500, 37_500)


def test_the_restocking_fee_rounds_half_up() -> None:
    outcome = _refund("changed_mind", ReturnedUnits(unit_price=1005, quantity=1, condition="resellable"))
    assert outcome[2] == 101  # 100.5


def test_never_more_than_captured_less_refunded() -> None:
    outcome = _refund(
        "damaged", ReturnedUnits(unit_price=25_000, quantity=2, condition="damaged"), refundable=30_000
    )
    assert outcome[3] == 30_000


def test_fees_never_make_a_refund_negative() -> None:
    outcome = _refund("size", ReturnedUnits(unit_price=2000, quantity=1, condition="resellable"))
    assert outcome[3] == 0


def test_the_reasons_a_customer_may_give() -> None:
    assert set(RETURN_REASONS) == {
        "damaged",
        "wrong_item",
        "not_as_described",
        "changed_mind",
        "size",
        "other",
    }
