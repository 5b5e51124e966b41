"""Subscriptions' rules, free of I/O: intervals and cycle dates, what a cycle costs, monthly recurring revenue,
and which moves (pause, resume, skip, cancel) a subscription in each status allows."""

from __future__ import annotations

import calendar
import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Literal
from uuid import NAMESPACE_URL, uuid5

from shop_orders.core.errors import OrderError

IntervalUnit = Literal["day", "week", "month"]

PLAN_CODE_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
SEGMENT_PREFIX = "subscribers:"
DAYS_PER_MONTH = Fraction(365, 12)
WEEKS_PER_MONTH = Fraction(52, 12)


class SubscriptionError(OrderError):
    """A request about plans or subscriptions that orders refuses."""


class UnknownPlan(SubscriptionError):
    pass


class PlanExists(SubscriptionError):
    pass


class InvalidPlan(SubscriptionError):
    pass


class PlanNotInCurrency(SubscriptionError):
    pass


class UnknownSubscription(SubscriptionError):
    pass


class NotInStatus(SubscriptionError):
    """The move is not allowed in the subscription's status (pause a cancelled one, resume an active one)."""


class Status(enum.StrEnum):
    ACTIVE = "active"
    PAST_DUE = "past_due"
    """A cycle's charge failed: dunning retries it until the period ends (then it is cancelled)."""
    PAUSED = "paused"
    CANCELLED = "cancelled"


MEMBER_STATUSES = (Status.ACTIVE, Status.PAST_DUE, Status.PAUSED)
"""A subscriber is in the plan's segment in these statuses; a cancelled subscription leaves it."""


@dataclass(frozen=True)
class Interval:
    unit: IntervalUnit
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise InvalidPlan("an interval counts at least 1 day, week or month", field="interval_count")

    def after(self, start: datetime, times: int) -> datetime:
        """``times`` intervals after ``start``. Months keep the start's day, or the month's last day when it is
        shorter (31 January, then 28 or 29 February, then 31 March): counted from the start, never chained."""
        if self.unit == "day":
            return start + timedelta(days=self.count * times)
        if self.unit == "week":
            return start + timedelta(weeks=self.count * times)
        months = start.month - 1 + self.count * times
        year, month = start.year + months // 12, months % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return start.replace(year=year, month=month, day=day)

    def per_month(self, amount: int) -> Fraction:
        """What ``amount`` charged every interval comes to in an average month (a year's twelfth)."""
        if self.unit == "month":
            return Fraction(amount, self.count)
        if self.unit == "week":
            return amount * WEEKS_PER_MONTH / self.count
        return amount * DAYS_PER_MONTH / self.count


def round_half_up(value: Fraction) -> int:
    """Round a non-negative amount of minor units to a whole one, a half going up."""
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    interval: Interval
    prices: dict[str, int]
    """Price per cycle by ISO currency, in minor units (KRW has none: won)."""
    sku: str
    quantity: int
    segment: str
    trial_days: int = 0
    first_cycle_percent_off: int = 0

    def price(self, currency: str) -> int:
        if currency not in self.prices:
            sold_in = ", ".join(sorted(self.prices))
            raise PlanNotInCurrency(
                f"plan {self.code} is not sold in {currency}; it is sold in {sold_in}", field="currency"
            )
        return self.prices[currency]

    def cycle_amount(self, currency: str, cycle: int) -> int:
        """What cycle ``cycle`` (1 is the first) charges: the first cycle's discount, rounded half up."""
        price = self.price(currency)
        if cycle == 1 and self.first_cycle_percent_off:
            return price - round_half_up(Fraction(price * self.first_cycle_percent_off, 100))
        return price

    def first_charge_at(self, started_at: datetime) -> datetime:
        """The first cycle is charged when the trial ends, or at once."""
        return started_at + timedelta(days=self.trial_days)

    def due_at(self, first_charge_at: datetime, cycle: int) -> datetime:
        return self.interval.after(first_charge_at, cycle - 1)


def plan_problem(
    *,
    code: str,
    prices: dict[str, int],
    quantity: int,
    trial_days: int,
    first_cycle_percent_off: int,
) -> tuple[str, str] | None:
    """What is wrong with a new plan, as (field, why), or None."""
    if re.fullmatch(PLAN_CODE_PATTERN, code) is None:
        return "code", "use lowercase letters and digits, words joined by - or _ (e.g. coffee-monthly)"
    if not prices:
        return "prices", "give the price per cycle in at least one currency"
    for currency, amount in prices.items():
        if re.fullmatch(r"[A-Z]{3}", currency) is None:
            return f"prices.{currency}", "a currency is an ISO 4217 code such as KRW or USD"
        if amount <= 0:
            return f"prices.{currency}", "a price is a positive amount in the currency's minor unit"
    if quantity < 1:
        return "quantity", "a cycle delivers at least one unit"
    if trial_days and first_cycle_percent_off:
        return "first_cycle_percent_off", "a plan has a trial or a first-cycle discount, not both"
    if not 0 <= first_cycle_percent_off <= 99:
        return "first_cycle_percent_off", "a discount is 1 to 99 percent"
    if trial_days < 0:
        return "trial_days", "a trial lasts 0 or more days"
    return None


def default_segment(plan_code: str) -> str:
    return f"{SEGMENT_PREFIX}{plan_code}"


def cycle_order_id(subscription_id: str, cycle: int) -> str:
    """The order a cycle becomes, known before it is charged (the charge is recorded under it)."""
    return str(uuid5(NAMESPACE_URL, f"shop:subscription:{subscription_id}:cycle:{cycle}"))


def cycle_line(amount: int, quantity: int) -> tuple[int, int]:
    """The cycle's order line as (unit price, discount): the unit price rounded up so that ``quantity`` units
    less the discount are exactly ``amount``."""
    unit_price = -(-amount // quantity)
    return unit_price, unit_price * quantity - amount


def next_cycle_from(
    plan: Plan, *, first_charge_at: datetime, cycle: int, now: datetime
) -> tuple[int, datetime]:
    """The first cycle from ``cycle`` on that is not due before ``now`` (cycles that fell due while paused are
    not charged), with its due time."""
    due = plan.due_at(first_charge_at, cycle)
    while due < now:
        cycle += 1
        due = plan.due_at(first_charge_at, cycle)
    return cycle, due


def allowed(move: str, status: Status) -> bool:
    """Which moves each status allows: pause and skip an active subscription, resume a paused one, change the
    card of one not cancelled, cancel one not cancelled yet."""
    if move in ("pause", "skip"):
        return status is Status.ACTIVE
    if move == "resume":
        return status is Status.PAUSED
    return status is not Status.CANCELLED


def require(move: str, status: Status, subscription_id: str) -> None:
    if not allowed(move, status):
        raise NotInStatus(
            f"subscription {subscription_id} is {status.value}; it cannot {move}", field="status"
        )


def monthly_recurring_revenue(subscriptions: list[tuple[str, int, Interval]]) -> dict[str, int]:
    """Per currency, what the active subscriptions charge in an average month: each (currency, price per
    cycle, interval) normalised to a month, summed exactly, rounded half up once per currency."""
    totals: dict[str, Fraction] = {}
    for currency, amount, interval in subscriptions:
        totals[currency] = totals.get(currency, Fraction(0)) + interval.per_month(amount)
    return {currency: round_half_up(total) for currency, total in sorted(totals.items())}


def dunning_retry_at(*, failed_at: datetime, retry_after: timedelta, give_up_at: datetime) -> datetime | None:
    """When a failed cycle is charged again, or None when that would be at or past the dunning period's end."""
    retry_at = failed_at + retry_after
    return retry_at if retry_at < give_up_at else None


@dataclass
class Cycle:
    """One cycle's charge: asked of payments ``attempts`` times, charged once (``charged_at``)."""

    subscription_id: str
    cycle: int
    order_id: str
    amount: int
    currency: str
    due_at: datetime
    attempts: int = 0
    charged_at: datetime | None = None
    payment_id: str | None = None
    first_failed_at: datetime | None = None
    decline_code: str | None = None
    skipped_at: datetime | None = None


@dataclass
class Subscription:
    """A customer's subscription to a plan. ``cycle`` is the next cycle to charge, at ``next_charge_at``."""

    id: str
    plan_code: str
    customer_id: str
    email: str
    locale: str
    currency: str
    status: Status
    payment_token: str
    shipping_address: dict[str, object]
    shipping_method: str
    idempotency_key: str
    started_at: datetime
    first_charge_at: datetime
    cycle: int
    next_charge_at: datetime
    updated_at: datetime
    cancel_at_period_end: bool = False
    paused_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    def pause(self, now: datetime) -> None:
        """No cycle is charged while paused."""
        require("pause", self.status, self.id)
        self.status, self.paused_at, self.updated_at = Status.PAUSED, now, now

    def resume(self, plan: Plan, now: datetime) -> None:
        """Charging starts again at the first scheduled date from now on: cycles that fell due while paused
        are not charged."""
        require("resume", self.status, self.id)
        self.cycle, self.next_charge_at = next_cycle_from(
            plan, first_charge_at=self.first_charge_at, cycle=self.cycle, now=now
        )
        self.status, self.paused_at, self.updated_at = Status.ACTIVE, None, now

    def skip(self, plan: Plan, now: datetime) -> int:
        """Skip the next cycle: it is not charged and nothing ships; answers the skipped cycle's number."""
        require("skip", self.status, self.id)
        skipped = self.cycle
        self.cycle += 1
        self.next_charge_at = plan.due_at(self.first_charge_at, self.cycle)
        self.updated_at = now
        return skipped

    def cancel(self, *, now: datetime, reason: str, at_period_end: bool) -> datetime:
        """Cancel now, or (an active subscription only) when the period already paid for (or the trial) ends:
        no later cycle is charged. Answers when it ends."""
        require("cancel", self.status, self.id)
        self.updated_at = now
        if at_period_end and self.status is Status.ACTIVE:
            self.cancel_at_period_end, self.cancel_reason = True, reason
            return self.next_charge_at
        self.status, self.cancelled_at, self.cancel_reason = Status.CANCELLED, now, reason
        return now

    def charged(self, plan: Plan, cycle: int, now: datetime) -> bool:
        """Cycle ``cycle`` was charged: the next one is due one interval later. False when that cycle is not the
        one the subscription waits on (told twice, or after a skip)."""
        if cycle != self.cycle:
            return False
        self.cycle = cycle + 1
        self.next_charge_at = plan.due_at(self.first_charge_at, self.cycle)
        if self.status is Status.PAST_DUE:
            self.status = Status.ACTIVE
        self.updated_at = now
        return True

    def due(self, cycle: int, now: datetime) -> bool:
        """Whether cycle ``cycle``'s scheduled charge still applies: active, waiting on it, and due."""
        return self.status is Status.ACTIVE and self.cycle == cycle and self.next_charge_at <= now
