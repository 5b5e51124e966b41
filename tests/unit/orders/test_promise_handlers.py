"""The ship date promised for a pre-order, through orders' real handlers with the order in memory and its jobs in
a fake schedule: the check scheduled at checkout (the 30-day rule when the policy names no date), a changed date
told to the customer and accepted, the reminder before a balance due on readiness moving with the date, and the
check when the promised day is over. Changes arrive late and twice: those tests replay them.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, date, datetime, timedelta

import pytest

from shop_contracts import orders as contracts
from shop_contracts.values import PreorderPolicy
from shop_orders.core.errors import NoDecisionAwaited
from shop_orders.core.jobs import CheckPromise, RemindOfBalanceWhenReady
from shop_orders.promises import handlers as promises
from tests.support.fakes import FakeJobs, FakeUnitOfWork
from tests.unit.orders.fakes import NOW, FakeOrders
from tests.unit.orders.preorders import EXPECTED, NOTICE, ON_READY, Step, confirmed, preorder, step

SECRET = "a-secret-of-sixteen-chars"
LATEST = date(2027, 2, 28)
WINDOW = PreorderPolicy(
    payment_mode="deposit",
    deposit_percent=20,
    balance_due="on_ready",
    expected_ship_date=EXPECTED,
    expected_ship_latest=LATEST,
)


def date_changed(
    orders: FakeOrders, to: date | None, *, version: int, previous: date | None = EXPECTED
) -> Step:
    return lambda uow: promises.record_preorder_date_change(
        uow,
        order_id="o-1",
        sku="FIG",
        previous_date=previous,
        expected_ship_date=to,
        now=NOW + timedelta(days=version),
        token_secret=SECRET,
        balance_notice=NOTICE,
        version=version,
        orders=orders,
    )


def promise_checked(orders: FakeOrders, promised: date) -> Step:
    return lambda uow: promises.check_promise(
        uow,
        order_id="o-1",
        sku="FIG",
        promised=promised,
        now=datetime.combine(promised + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
        orders=orders,
    )


def day_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


async def test_a_policy_without_a_date_promises_thirty_days_and_is_checked_the_day_after() -> None:
    orders, jobs = FakeOrders(preorder(PreorderPolicy(payment_mode="pay_now"))), FakeJobs()

    await confirmed(orders, jobs, expected=None)

    promised = date(2027, 1, 3)  # ordered 2026-12-04
    assert orders.stored["o-1"].line("FIG").promised_ship_date == promised
    assert jobs.due(CheckPromise) == [
        (CheckPromise(order_id="o-1", sku="FIG", promised=promised), datetime(2027, 1, 4, tzinfo=UTC))
    ]
    assert jobs.when("preorder_promise_check:o-1:FIG:2027-01-03") == datetime(2027, 1, 4, tzinfo=UTC)


async def test_a_window_promises_its_latest_date() -> None:
    orders, jobs = FakeOrders(preorder(WINDOW)), FakeJobs()

    await confirmed(orders, jobs)

    assert jobs.due(CheckPromise) == [
        (CheckPromise(order_id="o-1", sku="FIG", promised=LATEST), day_after(LATEST))
    ]


async def test_a_later_date_asks_for_consent_and_once_accepted_the_check_moves_to_the_new_date() -> None:
    orders, jobs = FakeOrders(preorder(WINDOW)), FakeJobs()
    await confirmed(orders, jobs)
    later = date(2027, 3, 20)

    told = await step(jobs, date_changed(orders, later, version=2))
    answered = await step(
        jobs,
        lambda uow: promises.decide_on_changed_date(
            uow, order_id="o-1", decision="accept", now=NOW + timedelta(days=3), orders=orders
        ),
    )

    [changed] = told.of_type(contracts.OrderPreorderDateChanged)
    assert (changed.expected_ship_date, changed.promised_date, changed.consent_required) == (
        later,
        LATEST,
        True,
    )
    line = orders.stored["o-1"].line("FIG")
    assert (line.promised_ship_date, line.consent_awaited) == (later, False)
    assert answered.published == []
    assert jobs.due(CheckPromise) == [
        (
            CheckPromise(order_id="o-1", sku="FIG", promised=LATEST),
            day_after(LATEST),
        ),  # finds the promise moved
        (CheckPromise(order_id="o-1", sku="FIG", promised=later), day_after(later)),
    ]
    assert orders.events_of("o-1")[-2:] == ["preorder_date_changed", "preorder_date_accepted"]


async def test_the_check_at_the_old_promise_and_a_second_accept_change_nothing() -> None:
    orders, jobs = FakeOrders(preorder(WINDOW)), FakeJobs()
    await confirmed(orders, jobs)
    await step(jobs, date_changed(orders, date(2027, 3, 20), version=2))

    def accept(uow: FakeUnitOfWork) -> Awaitable[object]:
        return promises.decide_on_changed_date(
            uow, order_id="o-1", decision="accept", now=NOW + timedelta(days=3), orders=orders
        )

    await step(jobs, accept)
    events = orders.events_of("o-1")
    again = await step(jobs, accept)
    [old_check] = jobs.take(CheckPromise, due_by=day_after(LATEST))
    checked = await step(jobs, promise_checked(orders, old_check.promised))

    assert old_check.promised == LATEST
    assert again.published == []
    assert checked.published == []
    assert orders.events_of("o-1") == events
    assert len(jobs.due(CheckPromise)) == 1


async def test_a_date_within_the_promise_needs_no_consent_and_is_told_once_even_when_told_twice() -> None:
    orders, jobs = FakeOrders(preorder(WINDOW)), FakeJobs()
    await confirmed(orders, jobs)
    sooner = date(2027, 2, 20)

    first = await step(jobs, date_changed(orders, sooner, version=2))
    again = await step(jobs, date_changed(orders, sooner, version=2))
    older = await step(jobs, date_changed(orders, date(2027, 4, 1), version=1))

    [changed] = first.of_type(contracts.OrderPreorderDateChanged)
    assert (changed.expected_ship_date, changed.consent_required) == (sooner, False)
    assert again.published == []
    assert older.published == []  # an older change arriving late
    line = orders.stored["o-1"].line("FIG")
    assert (line.expected_ship_date, line.promised_ship_date, line.consent_awaited) == (sooner, LATEST, False)
    assert orders.events_of("o-1").count("preorder_date_changed") == 1
    with pytest.raises(NoDecisionAwaited):
        await step(
            jobs,
            lambda uow: promises.decide_on_changed_date(
                uow, order_id="o-1", decision="accept", now=NOW, orders=FakeOrders(preorder(WINDOW))
            ),
        )


async def test_the_reminder_before_a_balance_due_on_readiness_moves_with_the_date_and_goes_when_it_is_withdrawn() -> (
    None
):
    orders, jobs = FakeOrders(preorder(ON_READY)), FakeJobs()
    await confirmed(orders, jobs)
    later = date(2027, 3, 20)

    await step(jobs, date_changed(orders, later, version=2))
    moved = jobs.due(RemindOfBalanceWhenReady)
    await step(jobs, date_changed(orders, None, version=3, previous=later))

    assert moved == [
        (RemindOfBalanceWhenReady(order_id="o-1", sku="FIG"), datetime(2027, 3, 20, tzinfo=UTC) - NOTICE)
    ]
    assert jobs.due(RemindOfBalanceWhenReady) == []
    assert jobs.cancelled(RemindOfBalanceWhenReady) == [RemindOfBalanceWhenReady(order_id="o-1", sku="FIG")]


async def test_a_date_change_before_the_reservation_was_heard_is_tried_again_later() -> None:
    orders, jobs = FakeOrders(preorder(WINDOW)), FakeJobs()

    with pytest.raises(LookupError):
        await step(jobs, date_changed(orders, date(2027, 3, 20), version=2))

    assert orders.events_of("o-1") == []


async def test_a_missed_promise_with_units_on_their_way_is_left_to_staff_on_the_timeline() -> None:
    orders, jobs = FakeOrders(preorder(WINDOW, quantity=2)), FakeJobs()
    await confirmed(orders, jobs)
    order = await orders.get("o-1")
    order.allocate(order.line("FIG"), allocation_id="a-1", location="seoul-1", quantity=1)
    await orders.save(order)

    [check] = jobs.take(CheckPromise)
    checked = await step(jobs, promise_checked(orders, check.promised))

    assert checked.published == []
    [detail] = [detail for _, event, detail in orders.timeline if event == "promise_missed"]
    assert detail == {
        "sku": "FIG",
        "promised_ship_date": LATEST.isoformat(),
        "detail": "1 of 2 units are on their way; the rest still wait",
    }
    assert orders.stored["o-1"].status.value == "confirmed"
