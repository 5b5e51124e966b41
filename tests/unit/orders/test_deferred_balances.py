"""Orders' pure rules for balances charged later: when to remind the customer and when to charge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop_orders.core.domain import NOT_YET_WITH_THE_WAREHOUSE, GroupStatus
from shop_orders.payment.domain import charge_time_on_allocation, reminder_time

NOW = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


@pytest.mark.parametrize(
    ("charge_in", "remind_in"),
    [
        (timedelta(days=3), timedelta(days=2)),  # the usual case: a day before the charge
        (timedelta(hours=24), timedelta()),  # exactly a day ahead: at once
        (timedelta(hours=3), timedelta()),  # less than a day left at checkout: at once, still before
        (timedelta(), None),  # already due: no reminder, the charge runs now
        (-timedelta(hours=1), None),
    ],
)
def test_the_reminder_comes_a_day_before_the_charge_or_at_once_when_that_passed(
    charge_in: timedelta, remind_in: timedelta | None
) -> None:
    remind_at = reminder_time(charge_at=NOW + charge_in, notice=DAY, now=NOW)
    assert remind_at == (None if remind_in is None else NOW + remind_in)


def test_a_shorter_notice_setting_moves_the_reminder() -> None:
    assert reminder_time(charge_at=NOW + DAY, notice=timedelta(hours=2), now=NOW) == NOW + timedelta(hours=22)


@pytest.mark.parametrize(
    ("reminded_ago", "charge_in"),
    [
        (None, DAY),  # never reminded: remind now, charge a day later
        (timedelta(hours=5), DAY),  # reminded too recently: a full notice from now
        (DAY, timedelta()),  # reminded a day ago: charge at once
        (timedelta(days=4), timedelta()),
    ],
)
def test_a_balance_due_on_readiness_is_charged_only_after_a_full_notice(
    reminded_ago: timedelta | None, charge_in: timedelta
) -> None:
    reminded_at = None if reminded_ago is None else NOW - reminded_ago
    assert charge_time_on_allocation(reminded_at=reminded_at, notice=DAY, now=NOW) == NOW + charge_in


def test_groups_paid_ahead_or_scheduled_can_still_be_cancelled() -> None:
    assert {
        GroupStatus.BALANCE_SCHEDULED,
        GroupStatus.PAID_AWAITING_STOCK,
        GroupStatus.AWAITING_LINE_BALANCE,
    } <= NOT_YET_WITH_THE_WAREHOUSE
    assert GroupStatus.RELEASED not in NOT_YET_WITH_THE_WAREHOUSE
