"""A cancellation's steps on the order aggregate (no handler, no storage): what is cancelled and given back,
what is refunded, and what the customer is told."""

from __future__ import annotations

from datetime import timedelta

from shop_contracts import catalog as catalog_contracts
from shop_contracts import fulfillment as fulfillment_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.money import Money
from shop_contracts.values import LocatedLine, PreorderPolicy
from shop_orders.cancellation.domain import (
    WinBackCode,
    announce_cancellation,
    ask_fulfillment_to_stop,
    finish_cancellation,
    waiting_preorder_units,
)
from shop_orders.core.domain import DATE_CHANGED_REASON, GroupStatus, OrderStatus
from shop_orders.core.order import Order
from tests.unit.orders.fakes import KRW, NOW, order_line, placed


def with_groups(order: Order, *statuses: GroupStatus) -> Order:
    """The order's T-shirts at seoul-1 and its cap at busan-1, the groups in ``statuses``."""
    held = [("seoul-1", "TEE-M", 2), ("busan-1", "CAP", 1)]
    for (location, sku, quantity), status in zip(held, statuses, strict=True):
        order.add_group(
            f"g-{location}",
            kind="in_stock",
            location=location,
            lines=[LocatedLine(sku=sku, quantity=quantity, location=location)],
            status=status,
        )
    return order


def test_an_order_not_yet_paid_is_cancelled_whole_and_its_stock_goes_back() -> None:
    order = with_groups(placed(status=OrderStatus.RESERVED), GroupStatus.RESERVED, GroupStatus.RESERVED)

    cancelled = finish_cancellation(order, reason="changed_mind", asked=[])

    assert (cancelled.partial, cancelled.refund, sorted(cancelled.dropped)) == (
        False,
        KRW(0),
        ["g-busan-1", "g-seoul-1"],
    )
    assert (order.status, order.status_reason) == (OrderStatus.CANCELLED, "changed_mind")
    assert {group.status for group in order.groups} == {GroupStatus.CANCELLED}
    [release] = [m for m in order.messages if isinstance(m, catalog_contracts.ReleaseStock)]
    assert (release.reason, release.lines) == ("changed_mind", None)  # everything the order holds
    assert not [m for m in order.messages if isinstance(m, payment_contracts.IssueRefund)]


def test_what_shipped_is_kept_and_the_rest_is_cancelled_and_refunded() -> None:
    order = with_groups(
        placed(status=OrderStatus.PARTIALLY_SHIPPED, captured=41000),
        GroupStatus.SHIPPED,
        GroupStatus.AWAITING_BALANCE,
    )

    cancelled = finish_cancellation(order, reason="changed_mind", asked=[])

    assert (cancelled.partial, cancelled.dropped) == (True, ["g-busan-1"])
    assert cancelled.refund == KRW(8000)  # the cap; shipping paid for the parcel that left is kept
    [release] = [m for m in order.messages if isinstance(m, catalog_contracts.ReleaseStock)]
    assert release.release_id == "cancel:o-1"
    assert [(line.sku, line.quantity) for line in release.lines or []] == [("CAP", 1)]
    [refund] = [m for m in order.messages if isinstance(m, payment_contracts.IssueRefund)]
    assert (refund.amount, refund.idempotency_key) == (Money(8000, "KRW"), "cancel:o-1")
    assert order.line("CAP").quantity_refunded == 1
    assert order.status is OrderStatus.PARTIALLY_FULFILLED  # all that is left to ship has shipped


def test_a_group_the_warehouse_stopped_gives_its_stock_back_with_the_rest() -> None:
    order = with_groups(
        placed(status=OrderStatus.CONFIRMED, captured=41000), GroupStatus.CANCELLED, GroupStatus.SHIPPED
    )

    cancelled = finish_cancellation(order, reason="changed_mind", asked=["g-seoul-1"])

    [release] = [m for m in order.messages if isinstance(m, catalog_contracts.ReleaseStock)]
    assert [(line.sku, line.quantity) for line in release.lines or []] == [("TEE-M", 2)]
    assert cancelled.refund == KRW(30000)


def preordered_with_deposit(*, refundable: bool) -> Order:
    policy = PreorderPolicy(payment_mode="deposit", deposit_percent=20, deposit_refundable=refundable)
    line = order_line(
        order_id="o-1", position=0, sku="FIG", title="Figure", quantity=2, unit_price=50000, line_total=100000,
        kind="preorder", preorder_policy=policy.model_dump(mode="json"), paid_now=20000, balance=80000,
    )  # fmt: skip
    return placed(lines=[line], status=OrderStatus.CONFIRMED, subtotal=100000, total=103000, captured=23000)


def test_a_non_refundable_deposit_is_kept_unless_the_shop_broke_its_promise() -> None:
    kept = preordered_with_deposit(refundable=False)
    broken_promise = preordered_with_deposit(refundable=False)
    refundable = preordered_with_deposit(refundable=True)

    assert waiting_preorder_units(kept) == 2
    assert finish_cancellation(kept, reason="changed_mind", asked=[]).kept_deposits == KRW(20000)
    assert finish_cancellation(broken_promise, reason=DATE_CHANGED_REASON, asked=[]).refund == KRW(23000)
    assert finish_cancellation(refundable, reason="changed_mind", asked=[]).refund == KRW(23000)


def test_groups_with_the_warehouse_are_asked_to_stop_with_what_they_hold() -> None:
    order = with_groups(
        placed(status=OrderStatus.CONFIRMED), GroupStatus.PICK_REQUESTED, GroupStatus.RELEASED
    )

    ask_fulfillment_to_stop(order, ["g-seoul-1", "g-busan-1"], reason="changed_mind")

    asked = [m for m in order.messages if isinstance(m, fulfillment_contracts.CancelFulfillmentOrder)]
    assert [(m.group_id, m.location, [line.sku for line in m.lines]) for m in asked] == [
        ("g-seoul-1", "seoul-1", ["TEE-M"]),
        ("g-busan-1", "busan-1", ["CAP"]),
    ]
    assert {group.status for group in order.groups} == {GroupStatus.PICK_REQUESTED, GroupStatus.RELEASED}


def test_the_customer_is_told_with_the_win_back_code() -> None:
    order = with_groups(placed(status=OrderStatus.RESERVED), GroupStatus.RESERVED, GroupStatus.RESERVED)
    cancelled = finish_cancellation(order, reason="shipping_cost", asked=[])
    code = WinBackCode(
        code="BACK-1A2B3C", kind="percent", percent_off=10, expires_at=NOW + timedelta(days=30)
    )

    announce_cancellation(
        order,
        cancelled,
        reason="shipping_cost",
        note=None,
        cancelled_by="customer",
        code=code,
        feedback="1796000000.abc",
    )

    [told] = [m for m in order.messages if isinstance(m, contracts.OrderCancelled)]
    assert (told.discount_code, told.discount_percent, told.cancelled_by, told.partial) == (
        "BACK-1A2B3C",
        10,
        "customer",
        False,
    )
    assert order.timeline[-1] == (
        "cancelled",
        {"reason": "shipping_cost", "refund": 0, "kept": 0, "discount_code": "BACK-1A2B3C"},
    )
    assert told.offer is not None
    assert (told.offer.kind, told.offer.code, told.offer.percent_off, told.offer.marketing) == (
        "percent",
        "BACK-1A2B3C",
        10,
        True,
    )
    assert told.feedback_token == "1796000000.abc"
