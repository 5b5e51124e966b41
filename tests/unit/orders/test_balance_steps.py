"""The order's pre-order balance steps on the aggregate itself (no handler, no storage): allocation into groups,
the balance a group owes, dunning, a paid balance releasing what waited for it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shop_contracts import fulfillment as fulfillment_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.money import Money
from shop_contracts.values import LocatedLine, PreorderPolicy
from shop_orders.core.domain import UNALLOCATED, GroupStatus, OrderStatus
from shop_orders.core.order import Order
from tests.unit.orders.fakes import KRW, NOW, order_line, placed

BALANCE_AT = datetime(2027, 2, 1, tzinfo=UTC)


def preorder(
    policy: PreorderPolicy, *, quantity: int = 3, balance: int = 36000, deferred: bool = False
) -> Order:
    """A confirmed order for ``quantity`` pre-ordered units at 15,000, 9,000 paid now, the rest owed."""
    line = order_line(
        order_id="o-1", position=0, sku="FIG", title="Figure", quantity=quantity, unit_price=15000,
        line_total=15000 * quantity, kind="preorder", preorder_policy=policy.model_dump(mode="json"),
        paid_now=15000 * quantity - balance, balance=balance, expected_ship_date=date(2027, 2, 10),
    )  # fmt: skip
    return placed(
        lines=[line],
        status=OrderStatus.CONFIRMED,
        subtotal=15000 * quantity,
        total=15000 * quantity + 3000,
        shipping_deferred=deferred,
        captured=15000 * quantity - balance,
    )


ON_READY = PreorderPolicy(payment_mode="deposit", deposit_percent=20, balance_due="on_ready")
BY_THE_CLOCK = PreorderPolicy(
    payment_mode="deposit", deposit_percent=20, balance_due="at", balance_due_at=BALANCE_AT
)


def test_units_allocated_to_a_line_due_on_readiness_owe_their_share_of_the_balance() -> None:
    order = preorder(ON_READY)

    first = order.allocate(order.line("FIG"), allocation_id="a-1", location="seoul-1", quantity=2)
    rest = order.allocate(order.line("FIG"), allocation_id="a-2", location="seoul-1", quantity=5)

    assert first is not None
    assert rest is not None
    assert [(g.id, g.status, g.lines[0]["quantity"], g.balance_amount) for g in order.groups] == [
        ("a-1", GroupStatus.AWAITING_CONFIRMATION, 2, KRW(24000)),
        ("a-2", GroupStatus.AWAITING_CONFIRMATION, 1, KRW(12000)),
    ]
    line = order.line("FIG")
    assert (line.units_allocated, line.balance_assigned) == (3, KRW(36000))


def test_shipping_deferred_to_later_goes_with_the_first_balance_only() -> None:
    order = preorder(ON_READY, deferred=True)

    first = order.allocate(order.line("FIG"), allocation_id="a-1", location="seoul-1", quantity=1)
    second = order.allocate(order.line("FIG"), allocation_id="a-2", location="seoul-1", quantity=1)

    assert first is not None
    assert second is not None
    assert (first.balance_amount, second.balance_amount) == (KRW(12000 + 3000), KRW(12000))
    assert order.shipping_deferred is False


def test_a_balance_due_by_the_clock_gets_its_group_before_the_units_arrive() -> None:
    order = preorder(BY_THE_CLOCK, deferred=True)

    group = order.balance_due_by_the_clock(order.line("FIG"))

    assert group is not None
    assert (group.location, group.status, group.balance_amount, group.balance_due_at) == (
        UNALLOCATED,
        GroupStatus.BALANCE_SCHEDULED,
        KRW(36000 + 3000),
        BALANCE_AT,
    )
    assert order.line("FIG").balance_assigned == KRW(36000)
    assert order.balance_due_by_the_clock(order.line("FIG")) is None  # nothing left to assign
    assert order.balance_due_by_the_clock(preorder(ON_READY).line("FIG")) is None


def test_units_for_a_line_the_clock_charged_ship_at_once_and_the_last_take_its_group() -> None:
    order = preorder(BY_THE_CLOCK)
    scheduled = order.balance_due_by_the_clock(order.line("FIG"))
    assert scheduled is not None
    scheduled.status = GroupStatus.PAID_AWAITING_STOCK

    assert order.allocate(order.line("FIG"), allocation_id="a-1", location="seoul-1", quantity=1) is None
    assert order.allocate(order.line("FIG"), allocation_id="a-2", location="busan-1", quantity=2) is None

    assert [(g.id, g.location, g.status, g.lines[0]["quantity"]) for g in order.groups] == [
        (scheduled.id, "busan-1", GroupStatus.RELEASED, 2),
        ("a-1", "seoul-1", GroupStatus.RELEASED, 1),
    ]
    sent = [m for m in order.messages if isinstance(m, fulfillment_contracts.CreateFulfillmentOrder)]
    assert [(m.group_id, m.location) for m in sent] == [("a-1", "seoul-1"), (scheduled.id, "busan-1")]


def test_a_paid_balance_releases_its_group_and_the_units_that_waited_for_the_line() -> None:
    order = preorder(BY_THE_CLOCK)
    scheduled = order.balance_due_by_the_clock(order.line("FIG"))
    assert scheduled is not None
    order.allocate(order.line("FIG"), allocation_id="a-1", location="seoul-1", quantity=1)
    order.charge_balance(scheduled, "balance_due")
    assert [m.amount for m in order.messages if isinstance(m, payment_contracts.ChargeBalance)] == [
        Money(36000, "KRW")
    ]

    order.record_balance_paid(scheduled, payment_id="pay-2", amount=Money(36000, "KRW"))

    assert order.captured == KRW(45000)
    assert [(g.id, g.status) for g in order.groups] == [
        (scheduled.id, GroupStatus.PAID_AWAITING_STOCK),
        ("a-1", GroupStatus.RELEASED),
    ]
    [charged] = [m for m in order.messages if isinstance(m, contracts.OrderBalanceCharged)]
    assert (charged.amount, charged.expected_ship_date) == (KRW(36000), date(2027, 2, 10))


def test_a_declined_balance_is_retried_until_the_dunning_period_ends() -> None:
    order = preorder(ON_READY)
    group = order.allocate(order.line("FIG"), allocation_id="a-1", location="seoul-1", quantity=3)
    assert group is not None
    decline = {"decline_code": "insufficient_funds", "message": "no", "requires_action": False}
    period = {"retry_after": timedelta(hours=24), "dunning_period": timedelta(days=10)}

    first = order.hold_unpaid(group, now=NOW, **decline, **period)  # type: ignore[arg-type]
    order.charge_balance(group, "balance_retried")
    last = order.hold_unpaid(group, now=NOW + timedelta(days=9, hours=12), **decline, **period)  # type: ignore[arg-type]

    assert (first.retry_at, first.give_up_at, first.failures) == (
        NOW + timedelta(hours=24),
        NOW + timedelta(days=10),
        1,
    )
    assert (last.retry_at, last.give_up_at, last.failures) == (None, NOW + timedelta(days=10), 2)
    assert group.status is GroupStatus.BALANCE_FAILED
    failed = [m for m in order.messages if isinstance(m, contracts.OrderBalanceChargeFailed)]
    assert [m.retry_at for m in failed] == [NOW + timedelta(hours=24), None]
    charges = [m for m in order.messages if isinstance(m, payment_contracts.ChargeBalance)]
    assert [m.attempt for m in charges] == [2]


def test_a_reminder_is_kept_on_the_line_so_the_charge_waits_out_the_notice() -> None:
    order = preorder(ON_READY)
    group = order.allocate(order.line("FIG"), allocation_id="a-1", location="seoul-1", quantity=3)
    assert group is not None

    order.charge_later(group, charge_at=NOW + timedelta(days=3), now=NOW)

    assert (group.status, group.balance_due_at) == (GroupStatus.BALANCE_SCHEDULED, NOW + timedelta(days=3))
    assert order.line("FIG").balance_reminded_at == NOW
    [reminder] = [m for m in order.messages if isinstance(m, contracts.OrderBalanceReminder)]
    assert (reminder.amount, reminder.charge_at, reminder.group_id) == (
        KRW(36000),
        NOW + timedelta(days=3),
        "a-1",
    )
    assert [event for event, _ in order.timeline] == [
        "preorder_allocated",
        "balance_scheduled",
        "balance_reminder_sent",
    ]


def test_moving_one_group_marks_only_what_changed() -> None:
    order = preorder(ON_READY)
    group = order.add_group(
        "g-1", kind="in_stock", location="seoul-1", lines=[LocatedLine(sku="FIG", quantity=1, location="seoul-1")],
        status=GroupStatus.RESERVED,
    )  # fmt: skip
    group.new = False
    group.mark_saved()
    order.mark_saved()

    order.release(group)

    assert group.changed == {"status": GroupStatus.RELEASED}
    assert order.changed == {}
    assert order.line("FIG").changed == {}
