"""Saga step deadlines and the step an order is at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shop_ops.deadlines import (
    WAITING_FOR_FULFILLMENT,
    WAITING_FOR_PAYMENT,
    WAITING_FOR_STOCK,
    find_stuck,
    saga_step,
    stuck_reason,
)
from shop_ops.durations import age, parse_duration
from shop_ops.rows import OrderState

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _order(order_id: str, status: str, minutes_ago: float) -> OrderState:
    since = NOW - timedelta(minutes=minutes_ago)
    return OrderState(order_id, status, 1000, "KRW", created_at=since, since=since)


@pytest.mark.parametrize(
    ("status", "has_fulfillment", "reason"),
    [
        ("pending", False, WAITING_FOR_STOCK),
        ("reserved", False, WAITING_FOR_PAYMENT),
        ("confirmed", False, WAITING_FOR_FULFILLMENT),
        ("confirmed", True, None),
        ("shipped", False, None),
        ("delivered", False, None),
        ("rejected", False, None),
    ],
)
def test_the_reason_an_order_waits(status: str, has_fulfillment: bool, reason: str | None) -> None:
    assert stuck_reason(status, has_fulfillment_order=has_fulfillment) == reason


def test_only_orders_past_the_deadline_are_stuck_longest_waiting_first() -> None:
    orders = [
        _order("recent", "pending", 2),
        _order("pending", "pending", 10),
        _order("reserved", "reserved", 30),
        _order("confirmed", "confirmed", 20),
        _order("handed-over", "confirmed", 60),
    ]
    stuck = find_stuck(orders, with_fulfillment={"handed-over"}, now=NOW, deadline=timedelta(minutes=5))
    assert [(s.order.order_id, s.reason) for s in stuck] == [
        ("reserved", WAITING_FOR_PAYMENT),
        ("confirmed", WAITING_FOR_FULFILLMENT),
        ("pending", WAITING_FOR_STOCK),
    ]
    assert stuck[-1].overdue_by == timedelta(minutes=5)


def test_saga_step_reads_orders_and_fulfillment_together() -> None:
    assert saga_step(None, []) == "unknown to orders"
    assert saga_step("pending", []).startswith("1 reserve stock")
    assert saga_step("reserved", []).startswith("2 take payment")
    assert saga_step("confirmed", []) == "3 hand over to fulfillment: waiting for a fulfillment order"
    assert saga_step("confirmed", ["picked"]) == "4 fulfil: waiting for the warehouse (picked)"
    assert saga_step("delivered", ["delivered"]) == "done: delivered"
    assert saga_step("rejected", [], "out_of_stock") == "done: rejected (out_of_stock)"
    assert saga_step("cancelled", ["cancelled"], "changed_mind") == "done: cancelled (changed_mind)"
    assert saga_step("partially_shipped", ["shipped"]).startswith("4 fulfil: part shipped")
    assert saga_step("partially_fulfilled", ["shipped"]).startswith("5 deliver")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", timedelta(minutes=5)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("45", timedelta(seconds=45)),
        (" 1.5h ", timedelta(minutes=90)),
    ],
)
def test_durations_parse_as_operators_type_them(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5x", "m5", "five minutes", "5m and"])
def test_a_bad_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_ages_read_briefly() -> None:
    assert age(timedelta(seconds=45)) == "45s"
    assert age(timedelta(minutes=5, seconds=3)) == "5m 3s"
    assert age(timedelta(hours=2, minutes=5, seconds=59)) == "2h 5m"
    assert age(timedelta(days=3, hours=4)) == "3d 4h"
