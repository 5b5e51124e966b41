"""Cancelling an order (whole or what is not yet with the warehouse), the warehouse's answer, the refund that
follows, and the win-back offer."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from shop_orders.cancellation.domain import (
    CancellationResult,
    WinBackCode,
    announce_cancellation,
    ask_fulfillment_to_stop,
    finish_cancellation,
    plan_cancellation,
    waiting_preorder_units,
)
from shop_orders.cancellation.queries import cancellation_result
from shop_orders.core import repository
from shop_orders.core.domain import (
    ACCEPTED,
    GroupStatus,
    OrderStatus,
)
from shop_orders.core.errors import NotCancellable
from shop_orders.core.groups import store
from shop_orders.core.jobs import CANCEL_UNPAID, CHARGE_SCHEDULED_BALANCE, REMIND_BALANCE
from shop_orders.core.metrics import ORDERS_CANCELLED
from shop_orders.core.order import Order
from shop_orders.core.tables import (
    cancellations,
    discount_codes,
    late_payments,
    scheduled_jobs,
    win_back_offer,
)
from shop_runtime import scheduling
from shop_runtime.database import UnitOfWork


@dataclass(frozen=True)
class Offer:
    """The win-back discount offered after a cancellation; a percent of 0 offers none."""

    discount_percent: int
    valid_days: int


async def cancel_order(
    uow: UnitOfWork,
    *,
    order_id: str,
    reason: str,
    now: datetime,
    note: str | None = None,
    cancelled_by: str = "shop",
    offer: Offer | None = None,
) -> CancellationResult:
    """Cancel an order in whatever state it is, compensating what that state did.

    pending / reserved: stock is released (a reservation landing later is released again) and a checkout
    payment that succeeds later is refunded. confirmed: stock and pre-order places are released, captures
    refunded per the policy. Groups with the warehouse are stopped through fulfillment, which refuses
    once they are packed (then nothing is cancelled: a return is the way). Partially shipped: what has
    not shipped is cancelled and refunded. A second request answers what the first did.
    """
    order = await repository.lock_order(uow.session, order_id)
    earlier = await load_cancellation(uow, order_id)
    if earlier is not None and earlier.status != "refused":
        if earlier.cancelled_by == "shop" and cancelled_by != "shop":
            raise NotCancellable(
                f"the shop already cancelled this order ({earlier.reason})", field="order_id"
            )
        return cancellation_result(earlier)
    plan = plan_cancellation(
        order.status,
        [(group.id, group.status) for group in order.groups],
        waiting_units=waiting_preorder_units(order),
    )
    offer = offer or Offer(discount_percent=0, valid_days=0)
    values = {
        "reason": reason,
        "note": note,
        "cancelled_by": cancelled_by,
        "email": order.email,
        "status": "requested",
        "asked": plan.ask_fulfillment,
        "awaiting": plan.ask_fulfillment,
        "refused": [],
        "refund": 0,
        "offer_percent": offer.discount_percent,
        "offer_days": offer.valid_days,
        "requested_at": now,
        "completed_at": None,
    }
    statement = insert(cancellations).values(order_id=order_id, **values)
    await uow.session.execute(
        statement.on_conflict_do_update(index_elements=[cancellations.c.order_id], set_=values)
    )
    order.record("cancel_requested", reason=reason, by=cancelled_by, note=note)
    if plan.ask_fulfillment:
        ask_fulfillment_to_stop(order, plan.ask_fulfillment, reason=reason)
        await store(uow, order)
        requested = await load_cancellation(uow, order_id)
        assert requested is not None
        return cancellation_result(requested)
    result, counted = await _finish(uow, order, now=now)
    if counted:
        uow.after_commit(ORDERS_CANCELLED.labels(reason).inc)
    return result


async def fulfillment_cancelled(uow: UnitOfWork, *, order_id: str, group_id: str, now: datetime) -> None:
    """Fulfillment stopped a group: once every group asked about has answered, finish the cancellation."""
    order = await repository.lock_order(uow.session, order_id)
    group = order.group(group_id)
    # Fulfillment stops only what is unpacked; a group past that (or cancelled already) stays as it is.
    if group is not None and order.move_group(group, GroupStatus.CANCELLED):
        order.record("fulfillment_cancelled", group_id=group_id)
    await _answered(uow, order, group_id, refused=False, now=now)


async def fulfillment_refused(
    uow: UnitOfWork, *, order_id: str, group_id: str, status: str, now: datetime
) -> None:
    """Fulfillment could not stop a group (the warehouse packed it): it ships; the answer is a return."""
    order = await repository.lock_order(uow.session, order_id)
    order.record("cancel_refused_by_fulfillment", group_id=group_id, status=status)
    await _answered(uow, order, group_id, refused=True, now=now)


async def _answered(uow: UnitOfWork, order: Order, group_id: str, *, refused: bool, now: datetime) -> None:
    cancellation = await load_cancellation(uow, order.id)
    if cancellation is None or cancellation.status != "requested" or group_id not in cancellation.awaiting:
        await store(uow, order)
        return
    awaiting = [group for group in cancellation.awaiting if group != group_id]
    refused_groups = [*cancellation.refused, group_id] if refused else list(cancellation.refused)
    await uow.session.execute(
        sa.update(cancellations)
        .where(cancellations.c.order_id == order.id)
        .values(awaiting=awaiting, refused=refused_groups)
    )
    counted = False
    if not awaiting:
        stopped = set(cancellation.asked) - set(refused_groups)
        if refused_groups and not stopped:
            await uow.session.execute(
                sa.update(cancellations)
                .where(cancellations.c.order_id == order.id)
                .values(status="refused", completed_at=now)
            )
            order.record("cancel_refused", groups=refused_groups)
            # Pre-order groups allocated while fulfillment was asked waited for this answer: they go on.
            if order.status in ACCEPTED:
                for group in order.groups_in(GroupStatus.AWAITING_CONFIRMATION):
                    order.advance(group)
        else:
            _, counted = await _finish(uow, order, now=now)
    await store(uow, order)
    if counted:
        uow.after_commit(ORDERS_CANCELLED.labels(cancellation.reason).inc)


async def _finish(uow: UnitOfWork, order: Order, *, now: datetime) -> tuple[CancellationResult, bool]:
    """Cancel every group not kept, release its stock and places, refund all but what is kept."""
    cancellation = await load_cancellation(uow, order.id)
    assert cancellation is not None
    reason = cancellation.reason
    cancelled = finish_cancellation(order, reason=reason, asked=cancellation.asked)
    for group_id in cancelled.dropped:
        # Pending dunning retries need no cancelling: they find the group cancelled and do nothing.
        for kind in (CANCEL_UNPAID, CHARGE_SCHEDULED_BALANCE, REMIND_BALANCE):
            await scheduling.cancel(uow.session, scheduled_jobs, key=f"{kind}:{group_id}", now=now)
    code = await _issue_code(uow, order, cancellation, now=now)
    outcome = "partially_cancelled" if cancelled.partial else "cancelled"
    await uow.session.execute(
        sa.update(cancellations)
        .where(cancellations.c.order_id == order.id)
        .values(status=outcome, refund=cancelled.refund, completed_at=now)
    )
    announce_cancellation(
        order,
        cancelled,
        reason=reason,
        note=cancellation.note,
        cancelled_by=cancellation.cancelled_by,
        code=None if code is None else WinBackCode(code.code, code.percent_off, code.expires_at),
    )
    await store(uow, order)
    result = CancellationResult(order_id=order.id, status=outcome, reason=reason, refund=cancelled.refund)
    return result, True


async def move_on_if_all_left(uow: UnitOfWork, order: Order) -> None:
    """After part of an order was cancelled or short, it is partially fulfilled once the rest shipped."""
    current = await repository.lock_order(uow.session, order.id)
    current.move_on_if_all_left()
    await store(uow, current)


async def request_refund(uow: UnitOfWork, order: Order, amount: int, *, key: str, reason: str) -> None:
    """Ask payments for a refund (never more than captured and not yet refunded) and count it asked."""
    current = await repository.lock_order(uow.session, order.id)
    current.request_refund(amount, key=key, reason=reason)
    await store(uow, current)


async def refund_after_cancel(
    uow: UnitOfWork, *, order_id: str, payment_id: str, amount: int, what: str
) -> bool:
    """A checkout payment or a balance that succeeded after the order (or its group) was cancelled: count
    it captured and give it back at once. False when the order was not cancelled (nothing done)."""
    order = await repository.lock_order(uow.session, order_id)
    cancellation = await load_cancellation(uow, order_id)
    if cancellation is None or cancellation.status not in ("cancelled", "partially_cancelled"):
        return False
    first = await uow.session.execute(
        insert(late_payments)
        .values(payment_id=payment_id, order_id=order_id, what=what, amount=amount)
        .on_conflict_do_nothing()
        .returning(late_payments.c.payment_id)
    )
    if first.first() is None:  # told again: counted and refunded already
        return True
    order.captured += amount
    order.request_refund(amount, key=f"cancel:{order_id}:{what}:{payment_id}", reason=cancellation.reason)
    order.record("late_payment_refunded", payment_id=payment_id, amount=amount, what=what)
    await store(uow, order)
    return True


async def release_late_reservation(uow: UnitOfWork, *, order_id: str) -> bool:
    """Stock reserved after the order was cancelled goes straight back. False when not cancelled."""
    order = await repository.lock_order(uow.session, order_id)
    if order.status is not OrderStatus.CANCELLED:
        return False
    order.release_late_reservation()
    await store(uow, order)
    return True


async def _issue_code(
    uow: UnitOfWork, order: Order, cancellation: Row[Any], *, now: datetime
) -> Row[Any] | None:
    """A single-use discount code for a next order, when staff offer one and the customer or staff cancelled."""
    if cancellation.offer_percent <= 0 or cancellation.cancelled_by == "shop":
        return None
    existing = (
        await uow.session.execute(
            sa.select(discount_codes).where(discount_codes.c.issued_for_order == order.id)
        )
    ).first()
    if existing is not None:
        return existing
    row = (
        await uow.session.execute(
            sa.insert(discount_codes)
            .values(
                code=f"BACK-{secrets.token_hex(5).upper()}",
                email=order.email,
                issued_for_order=order.id,
                percent_off=cancellation.offer_percent,
                expires_at=now + timedelta(days=cancellation.offer_days),
            )
            .returning(*discount_codes.c)
        )
    ).one()
    return row


async def current_offer(session: AsyncSession, default: Offer) -> Offer:
    row = (await session.execute(sa.select(win_back_offer))).first()
    if row is None:
        return default
    return Offer(discount_percent=row.discount_percent, valid_days=row.valid_days)


async def set_offer(uow: UnitOfWork, offer: Offer) -> Offer:
    """Staff switch the win-back discount on (a percent) or off (0)."""
    values = {"discount_percent": offer.discount_percent, "valid_days": offer.valid_days}
    statement = insert(win_back_offer).values(id=1, **values)
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[win_back_offer.c.id], set_={**values, "updated_at": sa.func.now()}
        )
    )
    return offer


async def load_cancellation(uow: UnitOfWork, order_id: str) -> Row[Any] | None:
    return (
        await uow.session.execute(sa.select(cancellations).where(cancellations.c.order_id == order_id))
    ).first()
