"""Orders' use cases around the ship date promised for a pre-order: a changed expected date, the customer's
decision about it, and the check at the promised date. Each is one async function in one unit of work.

The promise rules read in one place; a broken promise reuses cancellation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

import sqlalchemy as sa

from shop_contracts import orders as contracts
from shop_contracts.values import Customer, PreorderPolicy
from shop_orders.cancellation import handlers as cancellation
from shop_orders.core import groups, repository
from shop_orders.core import jobs as job_kinds
from shop_orders.core.domain import (
    DATE_CHANGED_REASON,
    PROMISE_BROKEN_REASON,
    WITH_THE_WAREHOUSE,
    GroupStatus,
    OrderStatus,
    decision_token,
    needs_consent,
    promised_ship_date,
)
from shop_orders.core.errors import NoDecisionAwaited, NotCancellable
from shop_orders.core.parts import OrderLine
from shop_orders.core.tables import order_lines
from shop_orders.payment import balances
from shop_runtime.database import UnitOfWork

Decision = Literal["accept", "cancel"]


_TELLABLE = {OrderStatus.RESERVED, OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED}
"""Orders whose waiting pre-order lines hear of a changed date."""
_OPEN = {OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED}


async def record_preorder_date_change(
    uow: UnitOfWork,
    *,
    order_id: str,
    sku: str,
    previous_date: date | None,
    expected_ship_date: date | None,
    now: datetime,
    token_secret: str,
    balance_notice: timedelta,
    version: int | None = None,
) -> None:
    """Catalog moved a waiting pre-order's expected date: keep it on the line and tell the customer, asking
    for consent when the new date is past the promise (until they give it, the promise check may cancel).

    A change older than one applied (a lower ``version``), or one that leaves the date where orders has it
    (told twice), changes nothing and tells no one."""
    order = await repository.lock_order(uow.session, order_id)
    status = OrderStatus(order.status)
    if status is OrderStatus.PENDING:
        raise LookupError(f"order {order_id} has not heard its stock was reserved yet; retried later")
    line = _waiting_line(await repository.lines_of(uow.session, order_id), sku)
    if status not in _TELLABLE or line is None:
        return
    if version is not None and line.eta_version is not None and version <= line.eta_version:
        return
    if expected_ship_date == line.expected_ship_date and line.date_changed_at is not None:
        return
    promised = line.promised_ship_date or promised_ship_date(_policy(line), order.created_at)
    consent_required = needs_consent(expected_ship_date, promised)
    await uow.session.execute(
        sa.update(order_lines)
        .where(order_lines.c.order_id == order_id, order_lines.c.sku == sku)
        .values(
            expected_ship_date=expected_ship_date,
            promised_ship_date=promised,
            consent_awaited=consent_required,
            date_changed_at=now,
            eta_version=version if version is not None else order_lines.c.eta_version,
        )
    )
    await balances.move_reminder_before_ready(
        uow,
        order_id=order_id,
        line=line,
        expected_ship_date=expected_ship_date,
        now=now,
        notice=balance_notice,
    )
    await repository.add_to_timeline(
        uow.session,
        order_id,
        "preorder_date_changed",
        sku=sku,
        previous_date=_iso(previous_date),
        expected_ship_date=_iso(expected_ship_date),
        promised_ship_date=promised.isoformat(),
        consent_required=consent_required,
    )
    uow.publish(
        contracts.OrderPreorderDateChanged(
            order_id=order_id,
            customer=Customer(email=order.email, locale=order.locale),
            sku=sku,
            title=line.title,
            previous_date=previous_date,
            expected_ship_date=expected_ship_date,
            promised_date=promised,
            consent_required=consent_required,
            decision_token=decision_token(token_secret, order_id),
        ),
        subject=order_id,
    )


@dataclass(frozen=True)
class DecisionOutcome:
    decision: Decision
    status: str
    refund: int = 0
    promised_ship_dates: dict[str, date] | None = None


async def decide_on_changed_date(
    uow: UnitOfWork, *, order_id: str, decision: Decision, now: datetime
) -> DecisionOutcome:
    """The customer answers a changed date: ``accept`` moves the promise of every line awaiting consent to
    its new date; ``cancel`` cancels the order with everything refunded, deposits included. Answering the
    same way twice changes nothing."""
    order = await repository.lock_order(uow.session, order_id)
    changed = [
        line
        for line in await repository.lines_of(uow.session, order_id)
        if line.kind == "preorder" and line.date_changed_at is not None
    ]
    if not changed:
        raise NoDecisionAwaited(
            "no pre-order date of this order changed; there is nothing to decide", field="decision"
        )
    if decision == "cancel":
        result = await cancellation.cancel_order(
            uow, order_id=order_id, reason=DATE_CHANGED_REASON, now=now, cancelled_by="customer"
        )
        return DecisionOutcome(decision=decision, status=result.status, refund=result.refund)
    if OrderStatus(order.status) not in _OPEN:
        raise NoDecisionAwaited(
            f"an order that is {order.status} takes no decision about its dates", field="decision"
        )
    accepted: dict[str, date] = {}
    for line in changed:
        if not line.consent_awaited or line.expected_ship_date is None:
            continue
        accepted[line.sku] = line.expected_ship_date
        await uow.session.execute(
            sa.update(order_lines)
            .where(order_lines.c.order_id == order_id, order_lines.c.sku == line.sku)
            .values(promised_ship_date=line.expected_ship_date, consent_awaited=False)
        )
        # The check at the old promise finds the promise moved and does nothing; this one takes over.
        await job_kinds.schedule_promise_check(
            uow, order_id=order_id, sku=line.sku, promised=line.expected_ship_date
        )
    if accepted:
        await repository.add_to_timeline(
            uow.session,
            order_id,
            "preorder_date_accepted",
            promised_ship_dates={sku: day.isoformat() for sku, day in accepted.items()},
        )
    return DecisionOutcome(
        decision=decision,
        status=order.status,
        promised_ship_dates={
            line.sku: line.promised_ship_date for line in changed if line.promised_ship_date is not None
        }
        | accepted,
    )


async def check_promise(uow: UnitOfWork, *, order_id: str, sku: str, promised: date, now: datetime) -> None:
    """The promised day of a pre-order line is over. A line still waiting for all its units, whose customer
    did not accept a later date, is cancelled with everything refunded (the deposit too: the shop broke the
    promise); its place goes to the next in the queue, and parts already shipped stay shipped. A line already
    partly allocated, or an order part of which the warehouse is picking or packing right now, is left to
    staff: the timeline says the promise was missed."""
    order = await repository.lock_order(uow.session, order_id)
    line = _waiting_line(await repository.lines_of(uow.session, order_id), sku)
    if OrderStatus(order.status) not in _OPEN or line is None or line.promised_ship_date != promised:
        return  # shipped, cancelled, or the customer accepted a later date (a later check takes over)
    # What already shipped stays shipped (the rest is cancelled and refunded); only a group the warehouse is
    # working on right now would be stopped with it, so then staff decide.
    if await groups.groups_in(uow, order_id, *WITH_THE_WAREHOUSE, GroupStatus.PACKED):
        detail = "part of this order is with the warehouse right now"
    elif line.units_allocated == 0:
        try:
            await cancellation.cancel_order(uow, order_id=order_id, reason=PROMISE_BROKEN_REASON, now=now)
            return
        except NotCancellable as error:
            detail = str(error)
    else:
        detail = f"{line.units_allocated} of {line.quantity} units are on their way; the rest still wait"
    await repository.add_to_timeline(
        uow.session,
        order_id,
        "promise_missed",
        sku=sku,
        promised_ship_date=promised.isoformat(),
        detail=detail,
    )


def _waiting_line(lines: list[OrderLine], sku: str) -> OrderLine | None:
    """The order's pre-order line of ``sku`` while some of its units still wait for stock."""
    return next(
        (
            line
            for line in lines
            if line.sku == sku and line.kind == "preorder" and line.units_allocated < line.quantity
        ),
        None,
    )


def _policy(line: OrderLine) -> PreorderPolicy:
    if line.preorder_policy:
        return PreorderPolicy.model_validate(line.preorder_policy)
    return PreorderPolicy(payment_mode="pay_now")


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
