"""Pre-order balances through orders' real handlers, with the order in memory and its jobs in a fake schedule:
the balance charged by the clock and its reminder, the balance charged once the goods are ready, a declined
balance held for dunning and tried again, and the end of the dunning period. Messages and jobs arrive late and
twice: each test that says so replays them and checks nothing changes.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import pytest

from shop_contracts import fulfillment as fulfillment_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.money import Money
from shop_orders.core.domain import UNALLOCATED, GroupStatus
from shop_orders.core.jobs import (
    CancelUnpaidPreorder,
    ChargeScheduledBalance,
    RemindOfBalance,
    RemindOfBalanceWhenReady,
    RetryBalance,
)
from shop_orders.payment import balances
from shop_orders.payment.balances import BalanceChargeInFlight
from tests.support.fakes import FakeJobs, FakeUnitOfWork
from tests.unit.orders.fakes import FakeOrders
from tests.unit.orders.preorders import (
    BALANCE_AT,
    BY_THE_CLOCK,
    NOTICE,
    ON_READY,
    Step,
    confirmed,
    preorder,
    step,
)

RETRY_AFTER = timedelta(hours=24)
DUNNING = timedelta(days=10)
READY_DAY = datetime(2027, 2, 10, tzinfo=UTC)
"""The start of the day the figure is expected."""


# --- charged by the clock -------------------------------------------------------------------------------------


async def test_a_balance_due_by_the_clock_is_scheduled_with_its_reminder_when_the_deposit_is_paid() -> None:
    orders, jobs = FakeOrders(preorder(BY_THE_CLOCK)), FakeJobs()

    deposit = await confirmed(orders, jobs)

    order = orders.stored["o-1"]
    [group] = order.groups
    assert (group.location, group.status, group.balance_amount) == (
        UNALLOCATED,
        GroupStatus.BALANCE_SCHEDULED,
        Money(48000, "KRW"),
    )
    assert Money(deposit, "KRW") + group.balance_amount == order.total
    assert jobs.due(ChargeScheduledBalance) == [
        (ChargeScheduledBalance(order_id="o-1", group_id=group.id), BALANCE_AT)
    ]
    assert jobs.due(RemindOfBalance) == [
        (RemindOfBalance(order_id="o-1", group_id=group.id), BALANCE_AT - NOTICE)
    ]
    assert jobs.when(f"charge_scheduled_balance:{group.id}") == BALANCE_AT
    assert jobs.when(f"remind_balance:{group.id}") == BALANCE_AT - NOTICE
    assert "balance_scheduled" in orders.events_of("o-1")


async def test_the_customer_is_reminded_then_charged_then_the_paid_group_waits_for_its_units() -> None:
    orders, jobs = FakeOrders(preorder(BY_THE_CLOCK)), FakeJobs()
    await confirmed(orders, jobs)

    [remind] = jobs.take(RemindOfBalance)
    reminded = await step(
        jobs,
        lambda uow: balances.remind_of_balance(
            uow, order_id="o-1", group_id=remind.group_id, now=BALANCE_AT - NOTICE, orders=orders
        ),
    )
    [charge] = jobs.take(ChargeScheduledBalance)
    charged = await step(
        jobs,
        lambda uow: balances.charge_scheduled_balance(
            uow, order_id="o-1", group_id=charge.group_id, orders=orders
        ),
    )
    paid = await step(
        jobs,
        lambda uow: balances.release_paid_group(
            uow,
            order_id="o-1",
            group_id=charge.group_id,
            payment_id="pay-2",
            amount=Money(48000, "KRW"),
            orders=orders,
        ),
    )

    [reminder] = reminded.of_type(contracts.OrderBalanceReminder)
    assert (reminder.amount, reminder.currency, reminder.charge_at, reminder.group_id) == (
        Money(48000, "KRW"),
        "KRW",
        BALANCE_AT,
        charge.group_id,
    )
    [charge_request] = charged.of_type(payment_contracts.ChargeBalance)
    assert (charge_request.amount, charge_request.attempt) == (Money(48000, "KRW"), 1)
    [told] = paid.of_type(contracts.OrderBalanceCharged)
    assert told.amount == Money(48000, "KRW")
    order = orders.stored["o-1"]
    assert order.captured == order.total
    group = order.group(charge.group_id)
    assert group is not None
    assert group.status is GroupStatus.PAID_AWAITING_STOCK  # its units have not arrived yet
    assert not paid.of_type(fulfillment_contracts.CreateFulfillmentOrder)
    assert orders.events_of("o-1")[-3:] == ["balance_reminder_sent", "balance_due", "balance_charged"]


async def test_a_reminder_that_comes_due_with_the_charge_and_a_charge_run_twice_change_nothing() -> None:
    orders, jobs = FakeOrders(preorder(BY_THE_CLOCK)), FakeJobs()
    await confirmed(orders, jobs)
    [group] = orders.stored["o-1"].groups

    late = await step(
        jobs,
        lambda uow: balances.remind_of_balance(
            uow, order_id="o-1", group_id=group.id, now=BALANCE_AT, orders=orders
        ),
    )
    runs = [
        await step(
            jobs,
            lambda uow: balances.charge_scheduled_balance(
                uow, order_id="o-1", group_id=group.id, orders=orders
            ),
        )
        for _ in range(2)
    ]
    paid_twice = [
        await step(
            jobs,
            lambda uow: balances.release_paid_group(
                uow,
                order_id="o-1",
                group_id=group.id,
                payment_id="pay-2",
                amount=Money(48000, "KRW"),
                orders=orders,
            ),
        )
        for _ in range(2)
    ]

    assert late.published == []  # no time left to act on it: nothing is said
    assert [len(run.of_type(payment_contracts.ChargeBalance)) for run in runs] == [1, 0]
    assert [len(told.of_type(contracts.OrderBalanceCharged)) for told in paid_twice] == [1, 0]
    order = orders.stored["o-1"]
    assert order.captured == order.total  # counted once
    assert orders.events_of("o-1").count("balance_charged") == 1


# --- charged when the goods are ready -------------------------------------------------------------------------


async def test_a_balance_due_on_readiness_is_reminded_of_before_the_expected_day() -> None:
    orders, jobs = FakeOrders(preorder(ON_READY)), FakeJobs()
    await confirmed(orders, jobs)

    [(remind, remind_at)] = jobs.due(RemindOfBalanceWhenReady)
    reminded = await step(
        jobs,
        lambda uow: balances.remind_of_balance_when_ready(
            uow, order_id="o-1", sku=remind.sku, now=remind_at, orders=orders
        ),
    )

    assert remind_at == READY_DAY - NOTICE
    assert jobs.when("remind_balance_when_ready:o-1:FIG") == READY_DAY - NOTICE
    assert jobs.due(ChargeScheduledBalance) == []  # charged when the units are allocated
    [reminder] = reminded.of_type(contracts.OrderBalanceReminder)
    assert (reminder.amount, reminder.charge_at, reminder.when_ready, reminder.group_id) == (
        Money(48000, "KRW"),
        READY_DAY,
        True,
        None,
    )
    assert orders.stored["o-1"].line("FIG").balance_reminded_at == READY_DAY - NOTICE


async def allocate(orders: FakeOrders, jobs: FakeJobs, *, now: datetime) -> tuple[FakeUnitOfWork, str]:
    """Catalog allocated the figure at seoul-1 (the order's step, as preorders' handler takes it); its
    balance is charged through the handler's rule: at once after a reminder, else after the notice."""
    order = await orders.get("o-1")
    group = order.allocate(order.line("FIG"), allocation_id="a-1", location="seoul-1", quantity=1)
    assert group is not None
    uow = await step(
        jobs,
        lambda uow: balances.charge_after_notice(
            uow, order, group, line=order.line("FIG"), now=now, notice=NOTICE, orders=orders
        ),
    )
    return uow, group.id


async def test_units_ready_before_any_reminder_are_charged_after_the_notice_and_the_customer_told_now() -> (
    None
):
    orders, jobs = FakeOrders(preorder(ON_READY)), FakeJobs()
    await confirmed(orders, jobs)
    early = datetime(2027, 1, 20, tzinfo=UTC)

    told, group_id = await allocate(orders, jobs, now=early)

    assert told.of_type(payment_contracts.ChargeBalance) == []
    [reminder] = told.of_type(contracts.OrderBalanceReminder)
    assert (reminder.amount, reminder.charge_at, reminder.group_id) == (
        Money(48000, "KRW"),
        early + NOTICE,
        group_id,
    )
    assert jobs.due(ChargeScheduledBalance) == [
        (ChargeScheduledBalance(order_id="o-1", group_id=group_id), early + NOTICE)
    ]
    group = orders.stored["o-1"].group(group_id)
    assert group is not None
    assert (group.status, group.balance_due_at) == (GroupStatus.BALANCE_SCHEDULED, early + NOTICE)


async def test_units_ready_after_the_reminder_are_charged_at_once() -> None:
    orders, jobs = FakeOrders(preorder(ON_READY)), FakeJobs()
    await confirmed(orders, jobs)
    await step(
        jobs,
        lambda uow: balances.remind_of_balance_when_ready(
            uow, order_id="o-1", sku="FIG", now=READY_DAY - NOTICE, orders=orders
        ),
    )

    told, group_id = await allocate(orders, jobs, now=READY_DAY)

    [charge] = told.of_type(payment_contracts.ChargeBalance)
    assert (charge.group_id, charge.amount, charge.attempt) == (group_id, Money(48000, "KRW"), 1)
    assert jobs.due(ChargeScheduledBalance) == []


# --- declined: dunning ----------------------------------------------------------------------------------------


async def charging(orders: FakeOrders, jobs: FakeJobs) -> str:
    """A confirmed order whose figure was allocated after its reminder: its balance is being charged."""
    await confirmed(orders, jobs)
    await step(
        jobs,
        lambda uow: balances.remind_of_balance_when_ready(
            uow, order_id="o-1", sku="FIG", now=READY_DAY - NOTICE, orders=orders
        ),
    )
    _, group_id = await allocate(orders, jobs, now=READY_DAY)
    return group_id


def declined(orders: FakeOrders, group_id: str, *, now: datetime) -> Step:
    return lambda uow: balances.hold_unpaid_group(
        uow,
        order_id="o-1",
        group_id=group_id,
        decline_code="insufficient_funds",
        message="Insufficient funds",
        requires_action=False,
        now=now,
        retry_after=RETRY_AFTER,
        dunning_period=DUNNING,
        orders=orders,
    )


async def test_a_declined_balance_is_held_tried_again_tomorrow_and_given_up_after_the_dunning_period() -> (
    None
):
    orders, jobs = FakeOrders(preorder(ON_READY)), FakeJobs()
    group_id = await charging(orders, jobs)

    told = await step(jobs, declined(orders, group_id, now=READY_DAY))

    [failed] = told.of_type(contracts.OrderBalanceChargeFailed)
    assert (failed.amount, failed.reason, failed.retry_at) == (
        Money(48000, "KRW"),
        "insufficient_funds",
        READY_DAY + RETRY_AFTER,
    )
    group = orders.stored["o-1"].group(group_id)
    assert group is not None
    assert (group.status, group.balance_failures) == (GroupStatus.BALANCE_FAILED, 1)
    assert jobs.when(f"retry_balance:{group_id}:1") == READY_DAY + RETRY_AFTER
    assert jobs.due(RetryBalance) == [
        (
            RetryBalance(order_id="o-1", group_id=group_id, give_up_at=READY_DAY + DUNNING),
            READY_DAY + RETRY_AFTER,
        )
    ]
    assert jobs.due(CancelUnpaidPreorder) == [
        (CancelUnpaidPreorder(order_id="o-1", group_id=group_id), READY_DAY + DUNNING)
    ]
    assert jobs.when(f"cancel_unpaid_preorder:{group_id}") == READY_DAY + DUNNING
    assert orders.events_of("o-1")[-1] == "balance_failed"


async def test_the_retry_charges_again_and_a_second_decline_near_the_end_schedules_no_more_retries() -> None:
    orders, jobs = FakeOrders(preorder(ON_READY)), FakeJobs()
    group_id = await charging(orders, jobs)
    await step(jobs, declined(orders, group_id, now=READY_DAY))

    [retry] = jobs.take(RetryBalance)
    retried = await step(
        jobs,
        lambda uow: balances.retry_unpaid_balance(
            uow,
            order_id="o-1",
            group_id=group_id,
            now=READY_DAY + RETRY_AFTER,
            give_up_at=retry.give_up_at,
            orders=orders,
        ),
    )
    last = await step(jobs, declined(orders, group_id, now=READY_DAY + timedelta(days=9, hours=12)))

    [charge] = retried.of_type(payment_contracts.ChargeBalance)
    assert (charge.amount, charge.attempt) == (Money(48000, "KRW"), 2)
    [failed] = last.of_type(contracts.OrderBalanceChargeFailed)
    assert failed.retry_at is None  # the next try would come after the dunning period
    assert jobs.due(RetryBalance) == []
    assert jobs.due(CancelUnpaidPreorder) == [
        (CancelUnpaidPreorder(order_id="o-1", group_id=group_id), READY_DAY + DUNNING)  # still the first end
    ]
    assert orders.events_of("o-1")[-3:] == ["balance_failed", "balance_retried", "balance_failed"]


async def test_a_decline_told_twice_or_after_the_balance_was_paid_changes_nothing() -> None:
    orders, jobs = FakeOrders(preorder(ON_READY)), FakeJobs()
    group_id = await charging(orders, jobs)
    first = await step(jobs, declined(orders, group_id, now=READY_DAY))
    again = await step(jobs, declined(orders, group_id, now=READY_DAY))

    paid_orders, paid_jobs = FakeOrders(preorder(ON_READY)), FakeJobs()
    paid_group = await charging(paid_orders, paid_jobs)
    await step(
        paid_jobs,
        lambda uow: balances.release_paid_group(
            uow,
            order_id="o-1",
            group_id=paid_group,
            payment_id="pay-2",
            amount=Money(48000, "KRW"),
            orders=paid_orders,
        ),
    )
    late = await step(paid_jobs, declined(paid_orders, paid_group, now=READY_DAY))

    assert len(first.of_type(contracts.OrderBalanceChargeFailed)) == 1
    assert again.published == []
    assert late.published == []
    group = orders.stored["o-1"].group(group_id)
    assert group is not None
    assert group.balance_failures == 1
    assert len(jobs.due(RetryBalance)) == 1
    paid = paid_orders.stored["o-1"].group(paid_group)
    assert paid is not None
    assert paid.status is GroupStatus.RELEASED
    assert paid_jobs.due(RetryBalance) == []
    assert paid_jobs.due(CancelUnpaidPreorder) == []


async def test_a_new_card_charges_the_held_balance_at_once_and_the_pending_retry_is_cancelled() -> None:
    orders, jobs = FakeOrders(preorder(ON_READY)), FakeJobs()
    group_id = await charging(orders, jobs)
    await step(jobs, declined(orders, group_id, now=READY_DAY))

    updated = await step(
        jobs,
        lambda uow: balances.retry_with_updated_method(
            uow, order_id="o-1", now=READY_DAY + timedelta(hours=2), orders=orders
        ),
    )

    [charge] = updated.of_type(payment_contracts.ChargeBalance)
    assert (charge.group_id, charge.amount, charge.attempt) == (group_id, Money(48000, "KRW"), 2)
    assert jobs.due(RetryBalance) == []
    assert [job.group_id for job in jobs.cancelled(RetryBalance)] == [group_id]
    assert orders.events_of("o-1")[-2:] == ["payment_method_updated", "balance_retried"]


async def test_a_retry_that_comes_due_after_the_dunning_period_leaves_it_to_the_cancellation() -> None:
    orders, jobs = FakeOrders(preorder(ON_READY)), FakeJobs()
    group_id = await charging(orders, jobs)
    await step(jobs, declined(orders, group_id, now=READY_DAY))

    late = await step(
        jobs,
        lambda uow: balances.retry_unpaid_balance(
            uow,
            order_id="o-1",
            group_id=group_id,
            now=READY_DAY + DUNNING,
            give_up_at=READY_DAY + DUNNING,
            orders=orders,
        ),
    )

    assert late.published == []
    group = orders.stored["o-1"].group(group_id)
    assert group is not None
    assert group.status is GroupStatus.BALANCE_FAILED


async def test_the_end_of_the_dunning_period_waits_for_a_charge_in_flight_and_spares_a_paid_balance() -> None:
    orders, jobs = FakeOrders(preorder(ON_READY)), FakeJobs()
    group_id = await charging(orders, jobs)
    await step(jobs, declined(orders, group_id, now=READY_DAY))
    await step(
        jobs,
        lambda uow: balances.retry_with_updated_method(uow, order_id="o-1", now=READY_DAY, orders=orders),
    )
    [give_up] = jobs.take(CancelUnpaidPreorder)

    def end_of_dunning(uow: FakeUnitOfWork) -> Awaitable[None]:
        return balances.cancel_unpaid_preorder(
            uow, order_id="o-1", group_id=give_up.group_id, now=READY_DAY + DUNNING, orders=orders
        )

    with pytest.raises(BalanceChargeInFlight):  # the scheduler runs the job again later
        await step(jobs, end_of_dunning)
    paid = await step(
        jobs,
        lambda uow: balances.release_paid_group(
            uow,
            order_id="o-1",
            group_id=group_id,
            payment_id="pay-3",
            amount=Money(48000, "KRW"),
            orders=orders,
        ),
    )
    again = await step(jobs, end_of_dunning)

    assert [told.amount for told in paid.of_type(contracts.OrderBalanceCharged)] == [Money(48000, "KRW")]
    [shipment] = paid.of_type(fulfillment_contracts.CreateFulfillmentOrder)
    assert (shipment.group_id, shipment.location) == (group_id, "seoul-1")
    assert again.published == []
    order = orders.stored["o-1"]
    group = order.group(group_id)
    assert group is not None
    assert group.status is GroupStatus.RELEASED
    assert "cancel_requested" not in orders.events_of("o-1")
