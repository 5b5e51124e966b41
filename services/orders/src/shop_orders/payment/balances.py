"""Pre-order balances: scheduling the charge and its reminder, charging, holding a group whose balance failed,
retrying with an updated method, releasing a paid group, and cancelling when the balance stays unpaid."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from shop_contracts.money import Money
from shop_orders.cancellation import handlers as cancellation
from shop_orders.cancellation.repository import Cancellations
from shop_orders.core.domain import (
    ACCEPTED,
    GroupStatus,
)
from shop_orders.core.groups import store
from shop_orders.core.jobs import (
    CANCEL_UNPAID,
    CHARGE_SCHEDULED_BALANCE,
    REMIND_BALANCE,
    REMIND_BALANCE_WHEN_READY,
    RETRY_BALANCE,
    CancelUnpaidPreorder,
    ChargeScheduledBalance,
    RemindOfBalance,
    RemindOfBalanceWhenReady,
    RetryBalance,
)
from shop_orders.core.order import Order
from shop_orders.core.parts import OrderLine, ShipmentGroup, policy_of, sku_of
from shop_orders.core.repository import Orders, SqlOrders
from shop_orders.payment.domain import charge_time_on_allocation, reminder_time
from shop_runtime.database import UnitOfWork


async def release_paid_group(
    uow: UnitOfWork,
    *,
    order_id: str,
    group_id: str,
    payment_id: str,
    amount: Money,
    orders: Orders | None = None,
    cancellations: Cancellations | None = None,
) -> None:
    """A group's balance is paid: it may ship."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    group = order.group(group_id)
    if group is not None and group.status is GroupStatus.CANCELLED:
        await cancellation.refund_after_cancel(
            uow,
            order_id=order_id,
            payment_id=payment_id,
            amount=amount,
            what=f"balance:{group_id}",
            orders=orders,
            cancellations=cancellations,
        )
        return
    if group is None or group.status not in (GroupStatus.AWAITING_BALANCE, GroupStatus.BALANCE_FAILED):
        return
    order.record_balance_paid(group, payment_id=payment_id, amount=amount)
    await store(uow, order, orders)


async def hold_unpaid_group(
    uow: UnitOfWork,
    *,
    order_id: str,
    group_id: str,
    decline_code: str,
    message: str,
    requires_action: bool,
    now: datetime,
    retry_after: timedelta,
    dunning_period: timedelta,
    orders: Orders | None = None,
) -> None:
    """A group's balance could not be charged: hold it, tell the customer how to fix it, try again later,
    and cancel the pre-order if it is still unpaid when the dunning period ends."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    group = order.group(group_id)
    if group is None or group.status is not GroupStatus.AWAITING_BALANCE:
        return
    dunning = order.hold_unpaid(
        group,
        decline_code=decline_code,
        message=message,
        requires_action=requires_action,
        now=now,
        retry_after=retry_after,
        dunning_period=dunning_period,
    )
    if dunning.retry_at is not None:
        await uow.jobs.schedule(
            RetryBalance(order_id=order_id, group_id=group_id, give_up_at=dunning.give_up_at),
            key=f"{RETRY_BALANCE}:{group_id}:{dunning.failures}",
            due_at=dunning.retry_at,
        )
    await uow.jobs.schedule(
        CancelUnpaidPreorder(order_id=order_id, group_id=group_id),
        key=f"{CANCEL_UNPAID}:{group_id}",
        due_at=dunning.give_up_at,
    )
    await store(uow, order, orders)


class BalanceChargeInFlight(Exception):
    """Raised from a scheduled job to run it again later."""


async def retry_unpaid_balance(
    uow: UnitOfWork,
    *,
    order_id: str,
    group_id: str,
    now: datetime,
    give_up_at: datetime,
    orders: Orders | None = None,
) -> None:
    """Dunning: charge a held group's balance again (payments makes it a new attempt). A retry that comes
    due only after the dunning period ended does nothing: the cancellation job decides then."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    group = order.group(group_id)
    if group is None or group.status is not GroupStatus.BALANCE_FAILED or now >= give_up_at:
        return
    order.charge_balance(group, "balance_retried")
    await store(uow, order, orders)


async def charge_scheduled_balance(
    uow: UnitOfWork, *, order_id: str, group_id: str, orders: Orders | None = None
) -> None:
    """A group's balance is due by the clock: charge it off-session now, whether or not its units arrived."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    group = order.group(group_id)
    if group is None or group.status is not GroupStatus.BALANCE_SCHEDULED:
        return
    order.charge_balance(group, "balance_due")
    await store(uow, order, orders)


async def remind_of_balance(
    uow: UnitOfWork, *, order_id: str, group_id: str, now: datetime, orders: Orders | None = None
) -> None:
    """Tell the customer a group's balance will be charged soon (what, when, where to change the card).
    A reminder that comes due only when the charge is due too says nothing: there is no time left to act."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    group = order.group(group_id)
    if (
        group is None
        or group.status is not GroupStatus.BALANCE_SCHEDULED
        or group.balance_due_at is None
        or group.balance_due_at <= now
    ):
        return
    order.remind_of_balance(
        sku=sku_of(group),
        group_id=group_id,
        amount=group.balance_amount,
        charge_at=group.balance_due_at,
        now=now,
    )
    await store(uow, order, orders)


async def remind_of_balance_when_ready(
    uow: UnitOfWork, *, order_id: str, sku: str, now: datetime, orders: Orders | None = None
) -> None:
    """A day before a pre-order line's goods are expected, tell the customer its balance (due when they are
    ready) will be charged then, so the charge can run as soon as they are allocated."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    if order.status not in ACCEPTED:
        return
    line = next((line for line in order.lines if line.sku == sku), None)
    if line is None or line.units_allocated >= line.quantity or line.balance_assigned >= line.balance:
        return
    if line.expected_ship_date is None:  # the date was withdrawn since: the reminder goes at allocation
        return
    amount = (
        line.balance - line.balance_assigned + (order.shipping if order.shipping_deferred else order.zero())
    )
    order.remind_of_balance(
        sku=sku,
        group_id=None,
        amount=amount,
        charge_at=_expected_moment(line.expected_ship_date),
        now=now,
        when_ready=True,
    )
    await store(uow, order, orders)


async def retry_with_updated_method(
    uow: UnitOfWork, *, order_id: str, now: datetime, orders: Orders | None = None
) -> None:
    """The customer replaced the order's payment method: charge every held balance again now instead of
    waiting for the next dunning retry, which is cancelled (a decline schedules the next one)."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    order.record("payment_method_updated")
    for group in order.groups_in(GroupStatus.BALANCE_FAILED):
        await uow.jobs.cancel(key=f"{RETRY_BALANCE}:{group.id}:{group.balance_failures}", now=now)
        order.charge_balance(group, "balance_retried", cause="payment_method_updated")
    await store(uow, order, orders)


async def cancel_unpaid_preorder(
    uow: UnitOfWork,
    *,
    order_id: str,
    group_id: str,
    now: datetime,
    orders: Orders | None = None,
    cancellations: Cancellations | None = None,
) -> None:
    """The dunning period ended and the balance is still unpaid: cancel, so the unit goes to the next in line."""
    order = await (orders or SqlOrders(uow.session)).get_if_any(order_id)
    group = None if order is None else order.group(group_id)
    if group is not None and group.status is GroupStatus.AWAITING_BALANCE:
        # A last charge attempt is under way: decide when its outcome is known (the job runs again).
        raise BalanceChargeInFlight(f"group {group_id} has a balance charge in flight")
    if group is None or group.status is not GroupStatus.BALANCE_FAILED:
        return

    await cancellation.cancel_order(
        uow, order_id=order_id, reason="balance_unpaid", now=now, orders=orders, cancellations=cancellations
    )


async def schedule_balances_due_by_the_clock(
    uow: UnitOfWork,
    order: Order,
    lines: list[OrderLine],
    *,
    now: datetime,
    notice: timedelta,
    orders: Orders | None = None,
) -> None:
    """Each pre-order line whose balance is due at a time (policy 'at' or 'after') becomes a group of its
    own now, not yet allocated anywhere: its balance is charged at that time whether or not the units
    arrived, with a reminder ``notice`` before; the units join it when stock is allocated. A line whose
    balance is due when the goods are ready is reminded of ``notice`` before they are expected."""
    for line in lines:
        if line.quantity <= line.units_allocated or line.balance <= line.balance_assigned:
            continue
        group = order.balance_due_by_the_clock(line)
        if group is None:  # due when the goods are ready
            await _schedule_reminder_before_ready(uow, order, line, now=now, notice=notice)
            continue
        assert group.balance_due_at is not None
        await uow.jobs.schedule(
            ChargeScheduledBalance(order_id=order.id, group_id=group.id),
            key=f"{CHARGE_SCHEDULED_BALANCE}:{group.id}",
            due_at=group.balance_due_at,
        )
        remind_at = reminder_time(charge_at=group.balance_due_at, notice=notice, now=now)
        if remind_at is not None:
            await uow.jobs.schedule(
                RemindOfBalance(order_id=order.id, group_id=group.id),
                key=f"{REMIND_BALANCE}:{group.id}",
                due_at=remind_at,
            )
    await store(uow, order, orders)


async def move_reminder_before_ready(
    uow: UnitOfWork,
    *,
    order_id: str,
    line: OrderLine,
    expected_ship_date: date | None,
    now: datetime,
    notice: timedelta,
) -> None:
    """A waiting line's expected date changed: its reminder before an ``on_ready`` balance moves with it (at
    once when the new date is less than ``notice`` away), unless the customer was already reminded."""
    policy = policy_of(line)
    if policy.balance_due != "on_ready" or line.balance <= line.balance_assigned or line.balance_reminded_at:
        return
    key = f"{REMIND_BALANCE_WHEN_READY}:{order_id}:{line.sku}"
    if expected_ship_date is None:
        await uow.jobs.cancel(key=key, now=now)
        return
    await uow.jobs.reschedule(
        RemindOfBalanceWhenReady(order_id=order_id, sku=line.sku),
        key=key,
        due_at=max(_expected_moment(expected_ship_date) - notice, now),
    )


async def _schedule_reminder_before_ready(
    uow: UnitOfWork, order: Order, line: OrderLine, *, now: datetime, notice: timedelta
) -> None:
    """A balance due when the goods are ready: remind ``notice`` before the day they are expected, so the
    charge can run as soon as they are allocated (if they come earlier, the reminder goes then)."""
    if line.expected_ship_date is None:
        return
    remind_at = _expected_moment(line.expected_ship_date) - notice
    if remind_at <= now:
        return
    await uow.jobs.schedule(
        RemindOfBalanceWhenReady(order_id=order.id, sku=line.sku),
        key=f"{REMIND_BALANCE_WHEN_READY}:{order.id}:{line.sku}",
        due_at=remind_at,
    )


async def charge_after_notice(
    uow: UnitOfWork,
    order: Order,
    group: ShipmentGroup,
    *,
    line: OrderLine,
    now: datetime,
    notice: timedelta,
    orders: Orders | None = None,
) -> None:
    """Charge a group whose balance is due now that its units are ready: at once if the customer was reminded
    at least ``notice`` ago, otherwise remind them now and charge ``notice`` later."""
    charge_at = charge_time_on_allocation(reminded_at=line.balance_reminded_at, notice=notice, now=now)
    if charge_at <= now:
        order.advance(group)
    else:
        order.charge_later(group, charge_at=charge_at, now=now)
        await uow.jobs.schedule(
            ChargeScheduledBalance(order_id=order.id, group_id=group.id),
            key=f"{CHARGE_SCHEDULED_BALANCE}:{group.id}",
            due_at=charge_at,
        )
    await store(uow, order, orders)


def _expected_moment(expected_ship_date: date) -> datetime:
    """The start (UTC) of the day a pre-order line is expected to be ready."""
    return datetime.combine(expected_ship_date, time(), tzinfo=UTC)
