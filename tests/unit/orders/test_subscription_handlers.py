"""Subscriptions through orders' real handlers, with subscriptions and orders in memory and jobs in a fake
schedule: a cycle charged on schedule becomes a paid order that confirms without a second charge, a declined
cycle is dunned (retried, charged at once on a new card, cancelled when the period ends), a cycle whose SKU is on
pre-order takes a place in the drop paid in full (no balance, refunded in full when cancelled), and a report told
twice changes nothing."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shop_contracts import catalog as catalog_contracts
from shop_contracts import fulfillment as fulfillment_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.money import Money
from shop_contracts.values import LocatedLine, PreorderLine, PreorderPolicy
from shop_orders.cancellation import handlers as cancellation
from shop_orders.checkout.handlers import reject_for_missing_stock, take_payment_for_reserved_stock
from shop_orders.core.domain import CatalogVariant, OrderStatus
from shop_orders.core.groups import store
from shop_orders.core.jobs import (
    ChargeScheduledBalance,
    RemindOfBalance,
    RemindOfBalanceWhenReady,
    RetryBalance,
)
from shop_orders.payment import balances
from shop_orders.subscriptions import handlers
from shop_orders.subscriptions.domain import (
    Cycle,
    Interval,
    InvalidPlan,
    NotInStatus,
    Plan,
    Status,
    Subscription,
    UnknownPlan,
    UnknownSubscription,
)
from shop_orders.subscriptions.handlers import NewSubscription, SubscriptionSettings
from shop_orders.subscriptions.jobs import ChargeCycle, EndDunning, RemindOfCharge, RetryCycle
from shop_runtime.metrics import REGISTRY
from tests.support.fakes import FakeJobs, FakeUnitOfWork
from tests.unit.orders.cancellations import FakeCancellations
from tests.unit.orders.fakes import ADDRESS, FakeOrders

NOW = datetime(2027, 1, 31, 9, 0, tzinfo=UTC)
SETTINGS = SubscriptionSettings(
    retry_after=timedelta(hours=24), dunning_period=timedelta(days=10), notice=timedelta(days=3)
)
PLAN = Plan(
    code="coffee",
    name="Coffee",
    interval=Interval("month"),
    prices={"KRW": 25000},
    sku="BEANS",
    quantity=2,
    segment="subscribers:coffee",
    first_cycle_percent_off=20,
)


class FakeSubscriptions:
    """Plans, subscriptions, cycles and segment members in memory; each load is a fresh copy."""

    def __init__(self) -> None:
        self.plans: dict[str, Plan] = {}
        self.stored: dict[str, Subscription] = {}
        self.cycles: dict[tuple[str, int], Cycle] = {}
        self.members: set[tuple[str, str]] = set()

    async def add_plan(self, plan: Plan, *, now: Any) -> None:
        self.plans.setdefault(plan.code, plan)

    async def plan(self, code: str) -> Plan:
        if code not in self.plans:
            raise UnknownPlan(f"no plan {code}", field="plan_code")
        return self.plans[code]

    async def customer(self, customer_id: str) -> tuple[str, str]:
        return "minsu@example.com", "ko"

    async def with_idempotency_key(self, key: str) -> Subscription | None:
        found = [s for s in self.stored.values() if s.idempotency_key == key]
        return copy.deepcopy(found[0]) if found else None

    async def add(self, subscription: Subscription) -> None:
        self.stored[subscription.id] = copy.deepcopy(subscription)

    async def get(self, subscription_id: str) -> Subscription:
        if subscription_id not in self.stored:
            raise UnknownSubscription(f"no subscription {subscription_id}", field="subscription_id")
        return copy.deepcopy(self.stored[subscription_id])

    async def save(self, subscription: Subscription) -> None:
        self.stored[subscription.id] = copy.deepcopy(subscription)

    async def cycle(self, subscription_id: str, cycle: int) -> Cycle | None:
        found = self.cycles.get((subscription_id, cycle))
        return copy.deepcopy(found)

    async def save_cycle(self, cycle: Cycle) -> None:
        self.cycles[(cycle.subscription_id, cycle.cycle)] = copy.deepcopy(cycle)

    async def join_segment(self, customer_id: str, segment: str, *, now: Any) -> None:
        self.members.add((customer_id, segment))

    async def leave_segment(self, customer_id: str, segment: str) -> None:
        self.members.discard((customer_id, segment))


class Shop:
    def __init__(self) -> None:
        self.subscriptions, self.orders, self.jobs = FakeSubscriptions(), FakeOrders(), FakeJobs()
        self.subscriptions.plans[PLAN.code] = PLAN

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.jobs)

    async def subscribe(self) -> Subscription:
        new = NewSubscription(
            customer_id="c-1",
            plan_code="coffee",
            currency="KRW",
            payment_token="tok_visa",
            shipping_address=ADDRESS,
            shipping_method="standard",
            idempotency_key="k-1",
        )
        subscription, created = await handlers.subscribe(
            self.uow(), new=new, now=NOW, settings=SETTINGS, subscriptions=self.subscriptions
        )
        assert created
        return subscription

    async def run_charge(self, now: datetime) -> FakeUnitOfWork:
        uow = self.uow()
        for job in self.jobs.take(ChargeCycle, due_by=now):
            await handlers.charge_due_cycle(
                uow,
                subscription_id=job.subscription_id,
                cycle=job.cycle,
                now=now,
                subscriptions=self.subscriptions,
            )
        return uow

    async def charged(self, ask: payment_contracts.ChargeSubscriptionCycle, now: datetime) -> FakeUnitOfWork:
        uow = self.uow()
        await handlers.record_charged(
            uow,
            subscription_id=ask.subscription_id,
            cycle=ask.cycle,
            payment_id=f"p-{ask.cycle}-{ask.attempt}",
            now=now,
            settings=SETTINGS,
            subscriptions=self.subscriptions,
            orders=self.orders,
        )
        return uow

    async def declined(self, ask: payment_contracts.ChargeSubscriptionCycle, now: datetime) -> FakeUnitOfWork:
        uow = self.uow()
        await handlers.record_failed(
            uow,
            subscription_id=ask.subscription_id,
            cycle=ask.cycle,
            attempt=ask.attempt,
            decline_code="card_declined",
            requires_action=False,
            now=now,
            settings=SETTINGS,
            subscriptions=self.subscriptions,
        )
        return uow


async def test_a_due_cycle_is_charged_once_and_becomes_a_paid_order_that_confirms_without_a_charge() -> None:
    shop = Shop()
    subscription = await shop.subscribe()
    assert ("c-1", "subscribers:coffee") in shop.subscriptions.members
    [(_, due_at)] = shop.jobs.due(ChargeCycle)
    assert due_at == NOW  # no trial: at once
    assert shop.jobs.due(RemindOfCharge) == []  # no time left for a reminder

    [ask] = (await shop.run_charge(NOW)).of_type(payment_contracts.ChargeSubscriptionCycle)
    assert (ask.cycle, ask.attempt, ask.amount, ask.payment_token) == (1, 1, Money(20000, "KRW"), "tok_visa")

    told = await shop.charged(ask, NOW)
    again = await shop.charged(ask, NOW)  # told twice: nothing more
    assert again.published == []
    [charged] = told.of_type(contracts.SubscriptionCycleCharged)
    assert charged.order_id == ask.order_id
    assert charged.next_charge_at == datetime(2027, 2, 28, 9, 0, tzinfo=UTC)
    order = shop.orders.stored[ask.order_id]
    assert (order.status, order.subscription_id, order.captured, order.total) == (
        OrderStatus.PENDING,
        subscription.id,
        Money(20000, "KRW"),
        Money(20000, "KRW"),
    )
    assert [line.quantity for line in order.lines] == [2]
    [reserve] = told.of_type(catalog_contracts.ReserveStock)
    assert reserve.customer_segments == ["subscribers:coffee"]

    # the stock is reserved: confirmed and sent to the warehouse, with no charge asked of payments
    reserved = shop.uow()
    lines = [LocatedLine(sku="BEANS", quantity=2, location="seoul")]
    confirmed_before = confirmed_orders()
    await take_payment_for_reserved_stock(
        reserved, order_id=ask.order_id, lines=lines, preorder_lines=[], orders=shop.orders
    )
    assert shop.orders.stored[ask.order_id].status is OrderStatus.CONFIRMED
    assert reserved.of_type(payment_contracts.CapturePayment) == []
    reserved.run_after_commit()
    assert confirmed_orders() == confirmed_before + 1  # the dashboard counts it with checkouts' orders
    assert len(reserved.of_type(fulfillment_contracts.CreateFulfillmentOrder)) == 1

    # the next cycle is scheduled a month later, with its reminder three days before
    assert [due for _, due in shop.jobs.due(ChargeCycle)] == [datetime(2027, 2, 28, 9, 0, tzinfo=UTC)]
    assert [due for _, due in shop.jobs.due(RemindOfCharge)] == [datetime(2027, 2, 25, 9, 0, tzinfo=UTC)]


async def test_a_paid_cycle_whose_stock_is_refused_is_refunded() -> None:
    shop = Shop()
    await shop.subscribe()
    [ask] = (await shop.run_charge(NOW)).of_type(payment_contracts.ChargeSubscriptionCycle)
    await shop.charged(ask, NOW)
    refused = shop.uow()
    await reject_for_missing_stock(
        refused, order_id=ask.order_id, detail="sold out", now=NOW, orders=shop.orders
    )
    [refund] = refused.of_type(payment_contracts.IssueRefund)
    assert (refund.order_id, refund.amount) == (ask.order_id, Money(20000, "KRW"))


async def test_a_declined_cycle_is_retried_charged_at_once_on_a_new_card_and_ends_when_the_period_does() -> (
    None
):
    shop = Shop()
    subscription = await shop.subscribe()
    [ask] = (await shop.run_charge(NOW)).of_type(payment_contracts.ChargeSubscriptionCycle)
    [failed] = (await shop.declined(ask, NOW)).of_type(contracts.SubscriptionCycleFailed)
    assert failed.retry_at == NOW + timedelta(hours=24)
    assert failed.give_up_at == NOW + timedelta(days=10)
    assert shop.subscriptions.stored[subscription.id].status is Status.PAST_DUE

    # the retry a day later asks for attempt 2
    retry_uow = shop.uow()
    for job in shop.jobs.take(RetryCycle, due_by=NOW + timedelta(hours=24)):
        await handlers.retry_cycle(
            retry_uow,
            subscription_id=job.subscription_id,
            cycle=job.cycle,
            attempt=job.attempt,
            subscriptions=shop.subscriptions,
        )
    [retry] = retry_uow.of_type(payment_contracts.ChargeSubscriptionCycle)
    assert retry.attempt == 2
    await shop.declined(retry, NOW + timedelta(hours=24))

    # a new card is charged at once (attempt 3), not at the next retry
    card_uow = shop.uow()
    await handlers.change_card(
        card_uow,
        subscription_id=subscription.id,
        customer_id="c-1",
        payment_token="tok_mastercard",
        now=NOW + timedelta(days=2),
        subscriptions=shop.subscriptions,
    )
    [now_ask] = card_uow.of_type(payment_contracts.ChargeSubscriptionCycle)
    assert (now_ask.attempt, now_ask.payment_token) == (3, "tok_mastercard")
    # the late failure of attempt 2's retry job, or of attempt 1, is old news
    assert (await shop.declined(ask, NOW + timedelta(days=2))).published == []
    await shop.charged(now_ask, NOW + timedelta(days=2))
    assert shop.subscriptions.stored[subscription.id].status is Status.ACTIVE

    # the period's end finds the cycle paid: nothing happens
    end_uow = shop.uow()
    for end in shop.jobs.take(EndDunning):
        await handlers.end_dunning(
            end_uow,
            subscription_id=end.subscription_id,
            cycle=end.cycle,
            now=NOW + timedelta(days=10),
            subscriptions=shop.subscriptions,
        )
    assert end_uow.published == []


async def test_an_unpaid_cycle_cancels_the_subscription_when_the_dunning_period_ends() -> None:
    shop = Shop()
    subscription = await shop.subscribe()
    [ask] = (await shop.run_charge(NOW)).of_type(payment_contracts.ChargeSubscriptionCycle)
    await shop.declined(ask, NOW)
    end_uow = shop.uow()
    for end in shop.jobs.take(EndDunning):
        await handlers.end_dunning(
            end_uow,
            subscription_id=end.subscription_id,
            cycle=end.cycle,
            now=NOW + timedelta(days=10),
            subscriptions=shop.subscriptions,
        )
    [cancelled] = end_uow.of_type(contracts.SubscriptionCancelled)
    assert cancelled.reason == "unpaid"
    assert shop.subscriptions.stored[subscription.id].status is Status.CANCELLED
    assert shop.subscriptions.members == set()


async def test_a_paused_subscription_is_not_charged_and_only_its_customer_may_change_it() -> None:
    shop = Shop()
    subscription = await shop.subscribe()
    with pytest.raises(UnknownSubscription):
        await handlers.pause(
            shop.uow(),
            subscription_id=subscription.id,
            customer_id="someone-else",
            now=NOW,
            subscriptions=shop.subscriptions,
        )
    paused = shop.uow()
    await handlers.pause(
        paused, subscription_id=subscription.id, customer_id="c-1", now=NOW, subscriptions=shop.subscriptions
    )
    assert len(paused.of_type(contracts.SubscriptionPaused)) == 1
    assert (await shop.run_charge(NOW + timedelta(days=1))).published == []
    with pytest.raises(NotInStatus):
        await handlers.pause(
            shop.uow(),
            subscription_id=subscription.id,
            customer_id="c-1",
            now=NOW,
            subscriptions=shop.subscriptions,
        )
    # cancelled at the period's end from paused ends at once and leaves the segment
    await handlers.cancel(
        shop.uow(),
        subscription_id=subscription.id,
        customer_id=None,
        at_period_end=True,
        now=NOW,
        subscriptions=shop.subscriptions,
    )
    assert shop.subscriptions.stored[subscription.id].status is Status.CANCELLED
    assert shop.subscriptions.members == set()


async def test_cancel_at_period_end_charges_nothing_more_and_ends_when_the_next_cycle_would_be_due() -> None:
    shop = Shop()
    subscription = await shop.subscribe()
    [ask] = (await shop.run_charge(NOW)).of_type(payment_contracts.ChargeSubscriptionCycle)
    await shop.charged(ask, NOW)
    told = shop.uow()
    await handlers.cancel(
        told,
        subscription_id=subscription.id,
        customer_id="c-1",
        at_period_end=True,
        now=NOW,
        subscriptions=shop.subscriptions,
    )
    [cancelled] = told.of_type(contracts.SubscriptionCancelled)
    assert cancelled.ends_at == datetime(2027, 2, 28, 9, 0, tzinfo=UTC)
    assert ("c-1", "subscribers:coffee") in shop.subscriptions.members  # still subscribed until then
    ended = await shop.run_charge(datetime(2027, 3, 1, tzinfo=UTC))
    assert ended.of_type(payment_contracts.ChargeSubscriptionCycle) == []
    assert shop.subscriptions.stored[subscription.id].status is Status.CANCELLED
    assert shop.subscriptions.members == set()


async def test_a_plan_must_sell_a_sku_orders_knows_and_keep_its_code() -> None:
    shop = Shop()
    other = Plan(
        code="tea", name="Tea", interval=Interval("week", 2), prices={"KRW": 9000}, sku="TEA", quantity=1,
        segment="subscribers:tea",
    )  # fmt: skip
    with pytest.raises(InvalidPlan, match="no product variant has SKU TEA"):
        await handlers.create_plan(
            shop.uow(), plan=other, now=NOW, subscriptions=shop.subscriptions, orders=shop.orders
        )
    shop.orders.catalog["TEA"] = CatalogVariant(sku="TEA", title="Tea", prices={"KRW": 9000})
    await handlers.create_plan(
        shop.uow(), plan=other, now=NOW, subscriptions=shop.subscriptions, orders=shop.orders
    )
    assert shop.subscriptions.plans["tea"] == other
    both = dataclasses.replace(other, trial_days=7, first_cycle_percent_off=10)
    with pytest.raises(InvalidPlan) as refused:
        await handlers.create_plan(
            shop.uow(), plan=both, now=NOW, subscriptions=shop.subscriptions, orders=shop.orders
        )
    assert refused.value.field == "first_cycle_percent_off"


EXPECTED = date(2027, 3, 20)
KEPT_DEPOSIT_ON_READY = PreorderPolicy(
    payment_mode="deposit",
    deposit_percent=30,
    deposit_refundable=False,
    balance_due="on_ready",
    expected_ship_date=EXPECTED,
)
KEPT_DEPOSIT_BY_THE_CLOCK = KEPT_DEPOSIT_ON_READY.model_copy(
    update={"balance_due": "at", "balance_due_at": datetime(2027, 3, 1, tzinfo=UTC)}
)
BALANCE_JOBS = (ChargeScheduledBalance, RemindOfBalance, RemindOfBalanceWhenReady, RetryBalance)


def confirmed_orders() -> float:
    return REGISTRY.get_sample_value("shop_orders_confirmed_total", {"currency": "KRW"}) or 0.0


def preorder_units() -> float:
    return REGISTRY.get_sample_value("shop_preorder_units_total") or 0.0


async def cycle_with_a_place_in_the_drop(policy: PreorderPolicy) -> tuple[Shop, str, FakeUnitOfWork]:
    """The plan's SKU is on pre-order under ``policy``: the first cycle is charged and catalog gives its units a
    place in the queue. The shop, the cycle's order id and what holding the place published."""
    shop = Shop()
    shop.orders.catalog["BEANS"] = CatalogVariant(
        sku="BEANS", title="Beans", prices={"KRW": 12500}, preorder_policy=policy
    )
    await shop.subscribe()
    [ask] = (await shop.run_charge(NOW)).of_type(payment_contracts.ChargeSubscriptionCycle)
    await shop.charged(ask, NOW)
    held = shop.uow()
    place = PreorderLine(sku="BEANS", quantity=2, queue_position=4, expected_ship_date=EXPECTED)
    await take_payment_for_reserved_stock(
        held, order_id=ask.order_id, lines=[], preorder_lines=[place], orders=shop.orders
    )
    return shop, ask.order_id, held


@pytest.mark.parametrize("policy", [KEPT_DEPOSIT_ON_READY, KEPT_DEPOSIT_BY_THE_CLOCK], ids=["on_ready", "at"])
async def test_a_cycle_on_preorder_takes_a_place_paid_in_full_and_ships_when_allocated_without_a_charge(
    policy: PreorderPolicy,
) -> None:
    units_before = preorder_units()
    shop, order_id, held = await cycle_with_a_place_in_the_drop(policy)
    held.run_after_commit()
    assert preorder_units() == units_before + 2  # its units count among pre-orders accepted

    order = shop.orders.stored[order_id]
    line = order.line("BEANS")
    assert order.status is OrderStatus.CONFIRMED
    assert (line.kind, line.queue_position, line.paid_now.amount, line.balance.amount) == (
        "preorder",
        4,
        20000,
        0,
    )
    assert (order.captured, order.charged_now, order.total) == (Money(20000, "KRW"),) * 3
    assert order.groups == []  # the units wait in the queue
    assert held.of_type(payment_contracts.CapturePayment) == []
    [confirmed] = held.of_type(contracts.OrderConfirmed)
    assert [(told.paid_now, told.balance) for told in confirmed.preorder_lines] == [
        (Money(20000, "KRW"), Money(0, "KRW"))
    ]
    # a new expected date moves no balance reminder: there is no balance
    moved = shop.uow()
    await balances.move_reminder_before_ready(
        moved, order_id=order_id, line=line, expected_ship_date=EXPECTED, now=NOW, notice=timedelta(days=1)
    )
    assert all(shop.jobs.due(kind) == [] for kind in BALANCE_JOBS)

    # catalog allocates the units (the order's step, as preorders' handler takes it): they ship, owing nothing
    allocated = await shop.orders.get(order_id)
    group = allocated.allocate(allocated.line("BEANS"), allocation_id="a-1", location="seoul", quantity=2)
    assert group is not None
    assert group.balance_amount == Money(0, "KRW")
    allocated.advance(group)
    released = shop.uow()
    await store(released, allocated, shop.orders)
    assert released.of_type(payment_contracts.ChargeBalance) == []
    [fulfil] = released.of_type(fulfillment_contracts.CreateFulfillmentOrder)
    assert (fulfil.group_id, fulfil.location) == ("a-1", "seoul")


async def test_a_cycle_waiting_in_the_drop_is_refunded_in_full_when_cancelled() -> None:
    shop, order_id, _ = await cycle_with_a_place_in_the_drop(KEPT_DEPOSIT_ON_READY)

    cancelled = shop.uow()
    result = await cancellation.cancel_order(
        cancelled,
        order_id=order_id,
        reason="changed_mind",
        now=NOW + timedelta(days=1),
        cancelled_by="customer",
        orders=shop.orders,
        cancellations=FakeCancellations(),
    )

    # the deposit rules keep nothing: the cycle's charge paid for the place in full
    assert (result.status, result.refund) == ("cancelled", 20000)
    [refund] = cancelled.of_type(payment_contracts.IssueRefund)
    assert (refund.order_id, refund.amount) == (order_id, Money(20000, "KRW"))
    [release] = cancelled.of_type(catalog_contracts.ReleaseStock)
    assert release.lines is None  # the place in the queue goes back
