"""Subscriptions' pure rules: cycle dates across month ends, what a cycle costs (trial, first-cycle discount,
rounding), monthly recurring revenue, and what pause, resume, skip and cancel do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop_orders.subscriptions.domain import (
    Interval,
    NotInStatus,
    Plan,
    Status,
    Subscription,
    cycle_line,
    dunning_retry_at,
    monthly_recurring_revenue,
    next_cycle_from,
    plan_problem,
)

START = datetime(2027, 1, 31, 9, 30, tzinfo=UTC)


def plan(**changes: object) -> Plan:
    values: dict[str, object] = {
        "code": "coffee",
        "name": "Coffee",
        "interval": Interval("month"),
        "prices": {"KRW": 25000, "USD": 1999},
        "sku": "BEANS",
        "quantity": 2,
        "segment": "subscribers:coffee",
    }
    return Plan(**(values | changes))  # type: ignore[arg-type]


def subscription(**changes: object) -> Subscription:
    values: dict[str, object] = {
        "id": "s-1",
        "plan_code": "coffee",
        "customer_id": "c-1",
        "email": "minsu@example.com",
        "locale": "ko",
        "currency": "KRW",
        "status": Status.ACTIVE,
        "payment_token": "tok_visa",
        "shipping_address": {},
        "shipping_method": "standard",
        "idempotency_key": "k",
        "started_at": START,
        "first_charge_at": START,
        "cycle": 1,
        "next_charge_at": START,
        "updated_at": START,
    }
    return Subscription(**(values | changes))  # type: ignore[arg-type]


def test_monthly_cycles_keep_the_start_day_or_the_last_day_of_a_shorter_month() -> None:
    dues = [plan().due_at(START, cycle) for cycle in range(1, 6)]
    assert [due.date().isoformat() for due in dues] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
        "2027-04-30",
        "2027-05-31",
    ]
    assert all(due.time() == START.time() for due in dues)
    leap = datetime(2028, 1, 31, tzinfo=UTC)
    assert plan().due_at(leap, 2).date().isoformat() == "2028-02-29"


def test_every_n_months_weeks_and_days_cross_the_year_end() -> None:
    november = datetime(2027, 11, 30, tzinfo=UTC)
    assert Interval("month", 3).after(november, 1).date().isoformat() == "2028-02-29"
    assert Interval("month", 2).after(november, 6).date().isoformat() == "2028-11-30"
    assert Interval("week", 2).after(november, 2) == november + timedelta(weeks=4)
    assert Interval("day", 10).after(november, 3) == november + timedelta(days=30)
    with pytest.raises(Exception, match="at least 1"):
        Interval("day", 0)


def test_a_trial_delays_the_first_charge_and_a_discount_lowers_only_the_first_cycle() -> None:
    trial = plan(trial_days=14)
    assert trial.first_charge_at(START) == START + timedelta(days=14)
    assert trial.cycle_amount("KRW", 1) == 25000
    discounted = plan(first_cycle_percent_off=15)
    assert discounted.cycle_amount("KRW", 1) == 21250
    assert discounted.cycle_amount("KRW", 2) == 25000
    # 15 % of 19.99 USD is 2.9985 USD: rounded half up to 3.00, so the first cycle is 16.99
    assert discounted.cycle_amount("USD", 1) == 1699


def test_a_plan_is_priced_only_in_its_currencies_and_refuses_what_makes_no_sense() -> None:
    with pytest.raises(Exception, match="not sold in EUR"):
        plan().price("EUR")
    assert problem_field() is None
    assert problem_field(trial_days=7, first_cycle_percent_off=10) == "first_cycle_percent_off"
    assert problem_field(prices={"KRW": 0}) == "prices.KRW"
    assert problem_field(code="Not A Slug") == "code"


def problem_field(
    *,
    code: str = "coffee",
    prices: dict[str, int] | None = None,
    trial_days: int = 0,
    first_cycle_percent_off: int = 0,
) -> str | None:
    problem = plan_problem(
        code=code,
        prices={"KRW": 1} if prices is None else prices,
        quantity=1,
        trial_days=trial_days,
        first_cycle_percent_off=first_cycle_percent_off,
    )
    return None if problem is None else problem[0]


def status_of(subscription: Subscription) -> Status:
    return subscription.status


def test_a_cycle_order_line_adds_up_to_the_cycle_amount() -> None:
    assert cycle_line(25000, 2) == (12500, 0)
    unit_price, discount = cycle_line(1699, 3)
    assert (unit_price, discount) == (567, 2)
    assert unit_price * 3 - discount == 1699


def test_monthly_recurring_revenue_normalises_every_interval_to_an_average_month() -> None:
    revenue = monthly_recurring_revenue(
        [
            ("KRW", 25000, Interval("month")),
            ("KRW", 60000, Interval("month", 3)),  # 20,000 a month
            ("KRW", 7000, Interval("week")),  # 7,000 x 52 / 12 = 30,333.33
            ("USD", 100, Interval("day", 2)),  # 100 x 365 / 12 / 2 = 1,520.83
            ("USD", 999, Interval("month")),
        ]
    )
    assert revenue == {"KRW": 75333, "USD": 2520}
    assert monthly_recurring_revenue([]) == {}


def test_skip_moves_the_next_charge_one_interval_and_pause_resume_do_not_charge_what_fell_due() -> None:
    active = subscription()
    assert active.skip(plan(), START) == 1
    assert (active.cycle, active.next_charge_at.date().isoformat()) == (2, "2027-02-28")

    active.pause(START + timedelta(days=1))
    assert status_of(active) is Status.PAUSED
    assert not active.due(2, START + timedelta(days=40))
    with pytest.raises(NotInStatus):
        active.skip(plan(), START)
    # resumed on 15 April: 28 February and 31 March fell due while paused; the next charge is 30 April
    active.resume(plan(), datetime(2027, 4, 15, tzinfo=UTC))
    assert status_of(active) is Status.ACTIVE
    assert (active.cycle, active.next_charge_at.date().isoformat()) == (4, "2027-04-30")
    assert next_cycle_from(plan(), first_charge_at=START, cycle=4, now=START) == (4, plan().due_at(START, 4))


def test_cancel_at_period_end_keeps_an_active_subscription_until_the_paid_cycle_ends() -> None:
    active = subscription(cycle=3, next_charge_at=plan().due_at(START, 3))
    ends = active.cancel(now=START, reason="customer", at_period_end=True)
    assert ends == active.next_charge_at
    assert (active.status, active.cancel_at_period_end) == (Status.ACTIVE, True)

    paused = subscription(status=Status.PAUSED)
    assert paused.cancel(now=START, reason="customer", at_period_end=True) == START
    assert paused.status is Status.CANCELLED
    with pytest.raises(NotInStatus):
        paused.cancel(now=START, reason="customer", at_period_end=False)


def test_a_charge_moves_the_subscription_on_once_and_clears_past_due() -> None:
    late = subscription(status=Status.PAST_DUE, cycle=2, next_charge_at=plan().due_at(START, 2))
    assert late.charged(plan(), 2, START)
    assert (late.status, late.cycle) == (Status.ACTIVE, 3)
    assert not late.charged(plan(), 2, START)  # told twice: nothing more


def test_a_retry_is_scheduled_only_before_the_dunning_period_ends() -> None:
    day = timedelta(hours=24)
    assert dunning_retry_at(failed_at=START, retry_after=day, give_up_at=START + 10 * day) == START + day
    assert dunning_retry_at(failed_at=START + 9 * day, retry_after=day, give_up_at=START + 10 * day) is None
