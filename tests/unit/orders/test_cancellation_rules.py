"""Orders' cancellation rules without I/O: what each state's cancellation does, what it refunds, discount codes
and whether a cancelled customer came back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop_contracts.money import Money
from shop_orders.cancellation.domain import (
    WinBack,
    kept_deposit,
    plan_cancellation,
    refund_for_cancellation,
    win_back_outcome,
)
from shop_orders.core.domain import GroupStatus, OrderStatus, can_move
from shop_orders.core.errors import DiscountCodeExpired, DiscountCodeUsed, NotCancellable
from shop_orders.core.pricing import check_discount_code, discount_for, discount_share

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def KRW(amount: int) -> Money:
    return Money(amount, "KRW")


@pytest.mark.parametrize(
    "status",
    [OrderStatus.PENDING, OrderStatus.RESERVED, OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED],
)
def test_an_order_may_be_cancelled_until_everything_left(status: OrderStatus) -> None:
    assert can_move(status, OrderStatus.CANCELLED)


def test_a_pending_order_with_no_groups_yet_is_cancelled_at_once() -> None:
    plan = plan_cancellation(OrderStatus.PENDING, [], waiting_units=0)
    assert (plan.cancel_now, plan.ask_fulfillment, plan.kept) == ([], [], [])


def test_groups_are_released_stopped_through_fulfillment_or_kept_by_where_they_are() -> None:
    plan = plan_cancellation(
        OrderStatus.PARTIALLY_SHIPPED,
        [
            ("reserved", GroupStatus.RESERVED),
            ("unpaid", GroupStatus.BALANCE_FAILED),
            ("sent", GroupStatus.RELEASED),
            ("picking", GroupStatus.PICKED),
            ("gone", GroupStatus.SHIPPED),
            ("home", GroupStatus.DELIVERED),
        ],
        waiting_units=0,
    )
    assert plan.cancel_now == ["reserved", "unpaid"]
    assert plan.ask_fulfillment == ["sent", "picking"]
    assert plan.kept == ["gone", "home"]


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (OrderStatus.SHIPPED, "request a return"),
        (OrderStatus.DELIVERED, "request a return"),
        (OrderStatus.PARTIALLY_FULFILLED, "request a return"),
        (OrderStatus.REJECTED, "rejected cannot be cancelled"),
        (OrderStatus.CANCELLED, "cancelled cannot be cancelled"),
    ],
)
def test_shipped_delivered_rejected_and_cancelled_orders_are_refused(status: OrderStatus, says: str) -> None:
    with pytest.raises(NotCancellable, match=says):
        plan_cancellation(status, [], waiting_units=0)


def test_a_packed_group_refuses_the_whole_cancellation_with_a_return_as_the_way() -> None:
    with pytest.raises(NotCancellable, match=r"already packed.*request a return"):
        plan_cancellation(
            OrderStatus.CONFIRMED,
            [("packed", GroupStatus.PACKED), ("waiting", GroupStatus.AWAITING_BALANCE)],
            waiting_units=0,
        )


def test_a_partially_shipped_order_with_only_shipped_groups_and_waiting_preorders_releases_the_places() -> (
    None
):
    plan = plan_cancellation(OrderStatus.PARTIALLY_SHIPPED, [("gone", GroupStatus.SHIPPED)], waiting_units=2)
    assert plan.kept == ["gone"]
    with pytest.raises(NotCancellable, match="everything in this order has shipped"):
        plan_cancellation(OrderStatus.PARTIALLY_SHIPPED, [("gone", GroupStatus.SHIPPED)], waiting_units=0)


def test_a_whole_cancellation_refunds_everything_captured_and_not_yet_refunded() -> None:
    refund = refund_for_cancellation(
        captured=KRW(81000),
        refunded=KRW(0),
        kept_value=KRW(0),
        subtotal=KRW(78000),
        discount=KRW(0),
        shipping=KRW(3000),
        kept_deposits=KRW(0),
    ).amount
    assert refund == 81000


def test_a_partial_cancellation_keeps_the_shipped_units_and_shipping() -> None:
    # 39,000 shipped, a 100,000 pre-order cancelled, 3,000 shipping: 100,000 back.
    refund = refund_for_cancellation(
        captured=KRW(142000),
        refunded=KRW(0),
        kept_value=KRW(39000),
        subtotal=KRW(139000),
        discount=KRW(0),
        shipping=KRW(3000),
        kept_deposits=KRW(0),
    ).amount
    assert refund == 100000


def test_a_discount_is_shared_by_what_is_kept_and_what_is_refunded() -> None:
    # 10% off 100,000: 90,000 + 3,000 paid; half the goods kept owe 45,000 + shipping.
    refund = refund_for_cancellation(
        captured=KRW(93000),
        refunded=KRW(0),
        kept_value=KRW(50000),
        subtotal=KRW(100000),
        discount=KRW(10000),
        shipping=KRW(3000),
        kept_deposits=KRW(0),
    ).amount
    assert refund == 93000 - (50000 - 5000 + 3000)


def test_non_refundable_deposits_and_earlier_refunds_are_not_refunded_again() -> None:
    refund = refund_for_cancellation(
        captured=KRW(63000),
        refunded=KRW(10000),
        kept_value=KRW(0),
        subtotal=KRW(60000),
        discount=KRW(0),
        shipping=KRW(3000),
        kept_deposits=KRW(20000),
    ).amount
    assert refund == 33000


def test_a_refund_is_never_negative() -> None:
    refund = refund_for_cancellation(
        captured=KRW(10000),
        refunded=KRW(10000),
        kept_value=KRW(0),
        subtotal=KRW(10000),
        discount=KRW(0),
        shipping=KRW(0),
        kept_deposits=KRW(5000),
    ).amount
    assert refund == 0


def test_the_deposit_kept_is_the_cancelled_units_share_rounded_down() -> None:
    assert kept_deposit(paid_now=KRW(10001), quantity=3, cancelled_units=2) == KRW(6667)
    assert kept_deposit(paid_now=KRW(30000), quantity=3, cancelled_units=3) == KRW(30000)
    assert kept_deposit(paid_now=KRW(30000), quantity=0, cancelled_units=0) == KRW(0)


def test_a_discount_share_is_proportional_and_rounded_down() -> None:
    assert discount_share(discount=KRW(1000), subtotal=KRW(3000), part=KRW(1000)) == KRW(333)
    assert discount_share(discount=KRW(1000), subtotal=KRW(0), part=KRW(0)) == KRW(0)


@pytest.mark.parametrize(
    ("subtotal", "percent", "discount"),
    [(50000, 10, 5000), (2995, 10, 300), (2994, 10, 299), (100, 100, 100)],
)
def test_a_code_takes_its_percent_off_the_subtotal_rounded_half_up(
    subtotal: int, percent: int, discount: int
) -> None:
    assert discount_for(subtotal=KRW(subtotal), percent_off=percent) == KRW(discount)


def test_a_code_is_used_once_and_until_it_expires() -> None:
    check_discount_code(code="BACK-1", redeemed_by=None, expires_at=NOW + timedelta(seconds=1), now=NOW)
    with pytest.raises(DiscountCodeUsed, match="already used"):
        check_discount_code(code="BACK-1", redeemed_by="order-2", expires_at=NOW + timedelta(days=1), now=NOW)
    with pytest.raises(DiscountCodeExpired, match="expired"):
        check_discount_code(code="BACK-1", redeemed_by=None, expires_at=NOW, now=NOW)


def test_a_customer_who_orders_again_in_time_was_saved() -> None:
    within = timedelta(days=30)
    cancelled = NOW - timedelta(days=40)
    assert (
        win_back_outcome(
            cancelled_at=cancelled, reordered_at=cancelled + timedelta(days=3), now=NOW, within=within
        )
        is WinBack.SAVED
    )
    assert (
        win_back_outcome(
            cancelled_at=cancelled, reordered_at=cancelled + timedelta(days=31), now=NOW, within=within
        )
        is WinBack.LOST
    )
    assert win_back_outcome(cancelled_at=cancelled, reordered_at=None, now=NOW, within=within) is WinBack.LOST
    recent = NOW - timedelta(days=2)
    assert win_back_outcome(cancelled_at=recent, reordered_at=None, now=NOW, within=within) is WinBack.OPEN
