"""Catalog's pre-order promise rules: which waiting pre-orders' dates moved, when a capped campaign sold out,
and when a window that starts later is announced."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from shop_catalog.domain.preorders import (
    Acceptance,
    ExpectedInbound,
    QueuedPreorder,
    expected_ship_dates,
    ship_date_changes,
    sold_out_at,
)
from shop_catalog.domain.waitlist import opening_announcement_due
from shop_contracts.values import PreorderPolicy

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def queued(
    position: int, *, quantity: int = 1, told: date | None = None, allocated: int = 0
) -> QueuedPreorder:
    return QueuedPreorder(
        id=uuid.uuid4(),
        order_id=f"order-{position}",
        sku="TEE",
        quantity=quantity,
        allocated=allocated,
        queue_position=position,
        told_ship_date=told,
    )


def test_only_pre_orders_whose_date_moved_are_changes() -> None:
    january, february = date(2027, 1, 10), date(2027, 2, 10)
    first, second, third = queued(1, told=january), queued(2, told=january), queued(3, told=None)
    inbounds = [
        ExpectedInbound(quantity=1, expected_at=datetime(2027, 1, 10, tzinfo=UTC)),
        ExpectedInbound(quantity=2, expected_at=datetime(2027, 2, 10, tzinfo=UTC)),
    ]
    dates = expected_ship_dates([first, second, third], inbounds, fallback=None)
    changes = ship_date_changes([first, second, third], dates)
    assert [(change.preorder.order_id, change.previous, change.current) for change in changes] == [
        ("order-2", january, february),
        ("order-3", None, february),
    ]


def test_a_short_receipt_falls_back_to_the_policy_date_and_allocated_pre_orders_are_not_told() -> None:
    told = date(2027, 1, 10)
    served, waiting = queued(1, told=told, allocated=1), queued(2, told=told)
    dates = expected_ship_dates([served, waiting], [], fallback=date(2027, 3, 1))
    [change] = ship_date_changes([served, waiting], dates)
    assert (change.preorder.order_id, change.previous, change.current) == ("order-2", told, date(2027, 3, 1))


def test_a_capped_campaign_sells_out_when_accepted_units_reach_the_cap() -> None:
    accepted = [
        Acceptance(at=NOW + timedelta(minutes=5), quantity=2),
        Acceptance(at=NOW, quantity=1),
        Acceptance(at=NOW + timedelta(minutes=9), quantity=1),
    ]
    assert sold_out_at(3, accepted) == NOW + timedelta(minutes=5)
    assert sold_out_at(5, accepted) is None
    assert sold_out_at(None, accepted) is None


def test_a_window_that_starts_later_is_announced_at_its_start_and_an_open_one_is_not_scheduled() -> None:
    later = PreorderPolicy(payment_mode="pay_now", starts_at=NOW + timedelta(days=2))
    assert opening_announcement_due(later, NOW) == NOW + timedelta(days=2)
    assert opening_announcement_due(PreorderPolicy(payment_mode="pay_now"), NOW) is None
    started = PreorderPolicy(payment_mode="pay_now", starts_at=NOW - timedelta(hours=1))
    assert opening_announcement_due(started, NOW) is None
    with_early_access = PreorderPolicy(
        payment_mode="pay_now",
        starts_at=NOW + timedelta(days=3),
        early_access_segment="vip",
        early_access_starts_at=NOW + timedelta(days=1),
    )
    assert opening_announcement_due(with_early_access, NOW) == NOW + timedelta(
        days=3
    )  # the waitlist has no segments


def test_units_given_back_stop_counting_towards_the_sell_out() -> None:
    accepted = [
        Acceptance(at=NOW, quantity=2, released_at=NOW + timedelta(minutes=1)),
        Acceptance(at=NOW + timedelta(minutes=2), quantity=1),
        Acceptance(at=NOW + timedelta(minutes=3), quantity=1),
        Acceptance(at=NOW + timedelta(minutes=4), quantity=1),
    ]
    assert sold_out_at(3, accepted) == NOW + timedelta(minutes=4)
