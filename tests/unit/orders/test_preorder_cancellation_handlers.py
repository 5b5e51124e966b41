"""Cancelling a pre-order through orders' real handlers, with the order in a ``FakeOrders``, its cancellation in a
``FakeCancellations`` and its jobs in a ``FakeJobs``: places in the queue given back, deposits refunded or kept
per the policy and the reason, the balance jobs cancelled, and the shop's own cancellations (the end of dunning, a
changed date the customer declines) as their handlers ask for them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shop_contracts import catalog as catalog_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.money import Money
from shop_contracts.values import PreorderPolicy
from shop_orders.cancellation import handlers as cancellation
from shop_orders.core.domain import DATE_CHANGED_REASON, GroupStatus, OrderStatus
from shop_orders.core.errors import NotCancellable
from shop_orders.core.jobs import (
    CancelUnpaidPreorder,
    ChargeScheduledBalance,
    RemindOfBalance,
)
from shop_orders.payment import balances
from tests.support.fakes import FakeJobs
from tests.unit.orders.fakes import FakeOrders
from tests.unit.orders.preorders import BY_THE_CLOCK, EXPECTED, NOTICE, ON_READY, confirmed, preorder
from tests.unit.orders.test_balance_handlers import DUNNING, READY_DAY, charging, declined
from tests.unit.orders.test_cancellation_handlers import TEN_PERCENT, Shop, cancel

EXPECTED_DAY = datetime.combine(EXPECTED, datetime.min.time(), tzinfo=UTC)
KEPT_DEPOSIT = PreorderPolicy(
    payment_mode="deposit",
    deposit_percent=20,
    deposit_refundable=False,
    balance_due="on_ready",
    expected_ship_date=EXPECTED,
)


async def confirmed_preorder(policy: PreorderPolicy) -> tuple[Shop, int]:
    """A figure pre-ordered under ``policy``, its place in the queue taken and its deposit paid; the deposit."""
    shop = Shop(FakeOrders(preorder(policy)), jobs=FakeJobs())
    deposit = await confirmed(shop.orders, shop.jobs)
    return shop, deposit


async def test_a_preorder_waiting_for_its_units_gives_its_place_back_and_its_deposit_is_refunded() -> None:
    shop, deposit = await confirmed_preorder(ON_READY)
    assert shop.order().groups == []  # nothing allocated yet: the unit waits in the queue

    result = await cancel()(shop)

    assert (result.status, result.refund) == ("cancelled", deposit)
    [release] = shop.of_type(catalog_contracts.ReleaseStock)
    assert (release.reason, release.lines) == ("changed_mind", None)  # the place in the queue goes with it
    [refund] = shop.of_type(payment_contracts.IssueRefund)
    assert (refund.amount, refund.idempotency_key) == (Money(deposit, "KRW"), "cancel:o-1")
    assert shop.order().status is OrderStatus.CANCELLED
    assert shop.order().line("FIG").quantity_refunded == 1
    shop.told.clear()
    # The reminder scheduled before the figure's expected day runs, and finds nothing to ask for.
    await shop.run(
        lambda uow: balances.remind_of_balance_when_ready(
            uow, order_id="o-1", sku="FIG", now=EXPECTED_DAY - NOTICE, orders=shop.orders
        )
    )
    assert shop.told == []


async def test_a_non_refundable_deposit_is_kept_when_the_customer_changes_their_mind() -> None:
    shop, captured = await confirmed_preorder(KEPT_DEPOSIT)
    deposit = shop.order().line("FIG").paid_now.amount

    result = await cancel()(shop)

    assert deposit == 12000
    assert result.refund == captured - deposit
    [told] = shop.of_type(contracts.OrderCancelled)
    assert told.refund == Money(captured - deposit, "KRW")
    assert shop.orders.timeline[-1] == (
        "o-1",
        "cancelled",
        {"reason": "changed_mind", "refund": captured - deposit, "kept": deposit, "discount_code": None},
    )


async def test_a_customer_who_declines_a_changed_date_gets_even_a_non_refundable_deposit_back() -> None:
    shop, captured = await confirmed_preorder(KEPT_DEPOSIT)

    # What promises' decide_on_changed_date asks when the customer answers "cancel".
    result = await cancel(DATE_CHANGED_REASON, by="customer", offer=TEN_PERCENT)(shop)

    assert (result.status, result.refund) == ("cancelled", captured)
    [refund] = shop.of_type(payment_contracts.IssueRefund)
    assert (refund.amount, refund.reason) == (Money(captured, "KRW"), DATE_CHANGED_REASON)
    [told] = shop.of_type(contracts.OrderCancelled)
    # The shop broke its promise: that is no reason a win-back offer answers.
    assert (told.reason, told.discount_code, told.offer) == (DATE_CHANGED_REASON, None, None)
    assert shop.cancellations.codes == {}


async def test_a_balance_due_by_the_clock_has_its_charge_and_reminder_cancelled() -> None:
    shop, deposit = await confirmed_preorder(BY_THE_CLOCK)
    [group] = shop.order().groups
    assert group.status is GroupStatus.BALANCE_SCHEDULED

    result = await cancel()(shop)

    assert (result.status, result.refund) == ("cancelled", deposit)
    assert shop.jobs.cancelled(ChargeScheduledBalance) == [
        ChargeScheduledBalance(order_id="o-1", group_id=group.id)
    ]
    assert shop.jobs.cancelled(RemindOfBalance) == [RemindOfBalance(order_id="o-1", group_id=group.id)]
    assert shop.jobs.due(ChargeScheduledBalance) == []
    assert shop.jobs.due(RemindOfBalance) == []
    assert shop.of_type(payment_contracts.ChargeBalance) == []
    assert [g.status for g in shop.order().groups] == [GroupStatus.CANCELLED]


async def test_the_end_of_dunning_cancels_the_unpaid_preorder_as_the_shop_and_the_customer_cannot_cancel_again() -> (
    None
):
    shop = Shop(FakeOrders(preorder(ON_READY)), jobs=FakeJobs())
    group_id = await charging(shop.orders, shop.jobs)
    await shop.run(declined(shop.orders, group_id, now=READY_DAY))
    deposit = shop.order().captured.amount
    [give_up] = shop.jobs.take(CancelUnpaidPreorder, due_by=READY_DAY + DUNNING)
    assert give_up.group_id == group_id
    shop.told.clear()

    # What payment's cancel_unpaid_preorder asks once the dunning period is over.
    result = await shop.run(
        lambda uow: cancellation.cancel_order(
            uow,
            order_id="o-1",
            reason="balance_unpaid",
            now=READY_DAY + DUNNING,
            orders=shop.orders,
            cancellations=shop.cancellations,
        )
    )

    assert (result.status, result.refund) == ("cancelled", deposit)
    [release] = shop.of_type(catalog_contracts.ReleaseStock)  # the unit goes to the next in line
    assert release.reason == "balance_unpaid"
    [told] = shop.of_type(contracts.OrderCancelled)
    assert (told.reason, told.cancelled_by, told.refund) == ("balance_unpaid", "shop", Money(deposit, "KRW"))
    assert (told.discount_code, told.feedback_token) == (None, None)
    group = shop.order().group(group_id)
    assert group is not None
    assert group.status is GroupStatus.CANCELLED
    assert shop.order().status is OrderStatus.CANCELLED

    with pytest.raises(NotCancellable, match="the shop already cancelled this order"):
        await cancel()(shop)
    assert len(shop.of_type(contracts.OrderCancelled)) == 1


async def test_a_balance_paid_after_the_preorder_was_cancelled_is_refunded_once() -> None:
    shop = Shop(FakeOrders(preorder(ON_READY)), jobs=FakeJobs())
    group_id = await charging(shop.orders, shop.jobs)
    await shop.run(declined(shop.orders, group_id, now=READY_DAY))
    await shop.run(
        lambda uow: cancellation.cancel_order(
            uow,
            order_id="o-1",
            reason="balance_unpaid",
            now=READY_DAY + DUNNING,
            orders=shop.orders,
            cancellations=shop.cancellations,
        )
    )
    deposit = shop.order().captured.amount

    for _ in range(2):  # what release_paid_group hands on when the paid group is cancelled, told twice
        await shop.run(
            lambda uow: cancellation.refund_after_cancel(
                uow,
                order_id="o-1",
                payment_id="pay-late",
                amount=Money(48000, "KRW"),
                what=f"balance:{group_id}",
                orders=shop.orders,
                cancellations=shop.cancellations,
            )
        )

    refunds = [(m.amount.amount, m.idempotency_key) for m in shop.of_type(payment_contracts.IssueRefund)]
    assert refunds == [(deposit, "cancel:o-1"), (48000, f"cancel:o-1:balance:{group_id}:pay-late")]
    assert shop.order().captured == shop.order().refund_requested == Money(deposit + 48000, "KRW")
    assert shop.cancellations.late_payments == {"pay-late": ("o-1", f"balance:{group_id}", 48000)}
