"""Cancelling an order (whole or what is not yet with the warehouse), the warehouse's answer, the refund that
follows, and the win-back offer.

Each handler takes the order from ``orders`` and its cancellation from ``cancellations`` (PostgreSQL unless given:
the handler tests give fakes), and never commits: its edge does, once."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from shop_api.orders.checkout import CANCELLATION_REASONS
from shop_contracts.money import Money
from shop_orders.cancellation.domain import (
    CancellationResult,
    FeedbackTokenRefused,
    WinBackCode,
    WinBackOffer,
    announce_cancellation,
    ask_fulfillment_to_stop,
    check_feedback_token,
    code_terms,
    feedback_token,
    finish_cancellation,
    plan_cancellation,
    waiting_preorder_units,
)
from shop_orders.cancellation.queries import cancellation_result
from shop_orders.cancellation.repository import Cancellation, Cancellations, Feedback, SqlCancellations
from shop_orders.core.domain import (
    ACCEPTED,
    GroupStatus,
)
from shop_orders.core.errors import NotCancellable, UnknownOrder
from shop_orders.core.groups import store
from shop_orders.core.jobs import CANCEL_UNPAID, CHARGE_SCHEDULED_BALANCE, REMIND_BALANCE
from shop_orders.core.metrics import ORDERS_CANCELLED
from shop_orders.core.order import Order
from shop_orders.core.repository import Orders, SqlOrders
from shop_runtime.database import UnitOfWork


async def cancel_order(
    uow: UnitOfWork,
    *,
    order_id: str,
    reason: str,
    now: datetime,
    note: str | None = None,
    cancelled_by: str = "shop",
    offer: WinBackOffer | None = None,
    token_secret: str | None = None,
    orders: Orders | None = None,
    cancellations: Cancellations | None = None,
) -> CancellationResult:
    """Cancel an order in whatever state it is, compensating what that state did.

    pending / reserved: stock is released (a reservation landing later is released again) and a checkout
    payment that succeeds later is refunded. confirmed: stock and pre-order places are released, captures
    refunded per the policy. Groups with the warehouse are stopped through fulfillment, which refuses
    once they are packed (then nothing is cancelled: a return is the way). Partially shipped: what has
    not shipped is cancelled and refunded. A second request answers what the first did.

    ``offer`` is the win-back offer of the reason, kept with the cancellation and given when it completes (a code
    only when the customer or staff cancelled); ``token_secret`` signs the feedback link's token.
    """
    orders = orders or SqlOrders(uow.session)
    cancellations = cancellations or SqlCancellations(uow.session)
    order = await orders.get(order_id)
    earlier = await cancellations.get(order_id)
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
    requested = Cancellation(
        order_id=order_id,
        reason=reason,
        note=note,
        cancelled_by=cancelled_by,
        email=order.email,
        status="requested",
        asked=plan.ask_fulfillment,
        awaiting=plan.ask_fulfillment,
        refused=[],
        refund=0,
        offer=offer.as_json() if offer is not None else None,
        requested_at=now,
        completed_at=None,
    )
    await cancellations.request(requested)
    order.record("cancel_requested", reason=reason, by=cancelled_by, note=note)
    if plan.ask_fulfillment:
        ask_fulfillment_to_stop(order, plan.ask_fulfillment, reason=reason)
        await store(uow, order, orders)
        return cancellation_result(requested)
    result, counted = await _finish(
        uow, order, requested, now=now, token_secret=token_secret, orders=orders, cancellations=cancellations
    )
    if counted:
        uow.after_commit(ORDERS_CANCELLED.labels(reason).inc)
    return result


async def fulfillment_cancelled(
    uow: UnitOfWork,
    *,
    order_id: str,
    group_id: str,
    now: datetime,
    token_secret: str | None = None,
    orders: Orders | None = None,
    cancellations: Cancellations | None = None,
) -> None:
    """Fulfillment stopped a group: once every group asked about has answered, finish the cancellation."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    group = order.group(group_id)
    # Fulfillment stops only what is unpacked; a group past that (or cancelled already) stays as it is.
    if group is not None and order.move_group(group, GroupStatus.CANCELLED):
        order.record("fulfillment_cancelled", group_id=group_id)
    await _answered(
        uow,
        order,
        group_id,
        refused=False,
        now=now,
        token_secret=token_secret,
        orders=orders,
        cancellations=cancellations or SqlCancellations(uow.session),
    )


async def fulfillment_refused(
    uow: UnitOfWork,
    *,
    order_id: str,
    group_id: str,
    status: str,
    now: datetime,
    token_secret: str | None = None,
    orders: Orders | None = None,
    cancellations: Cancellations | None = None,
) -> None:
    """Fulfillment could not stop a group (the warehouse packed it): it ships; the answer is a return."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get(order_id)
    order.record("cancel_refused_by_fulfillment", group_id=group_id, status=status)
    await _answered(
        uow,
        order,
        group_id,
        refused=True,
        now=now,
        token_secret=token_secret,
        orders=orders,
        cancellations=cancellations or SqlCancellations(uow.session),
    )


async def _answered(
    uow: UnitOfWork,
    order: Order,
    group_id: str,
    *,
    refused: bool,
    now: datetime,
    token_secret: str | None,
    orders: Orders,
    cancellations: Cancellations,
) -> None:
    cancellation = await cancellations.get(order.id)
    if cancellation is None or cancellation.status != "requested" or group_id not in cancellation.awaiting:
        await store(uow, order, orders)
        return
    awaiting = [group for group in cancellation.awaiting if group != group_id]
    refused_groups = [*cancellation.refused, group_id] if refused else list(cancellation.refused)
    await cancellations.record_answers(order.id, awaiting=awaiting, refused=refused_groups)
    counted = False
    if not awaiting:
        stopped = set(cancellation.asked) - set(refused_groups)
        if refused_groups and not stopped:
            await cancellations.refuse(order.id, now=now)
            order.record("cancel_refused", groups=refused_groups)
            # Pre-order groups allocated while fulfillment was asked waited for this answer: they go on.
            if order.status in ACCEPTED:
                for group in order.groups_in(GroupStatus.AWAITING_CONFIRMATION):
                    order.advance(group)
        else:
            _, counted = await _finish(
                uow,
                order,
                cancellation,
                now=now,
                token_secret=token_secret,
                orders=orders,
                cancellations=cancellations,
            )
    await store(uow, order, orders)
    if counted:
        uow.after_commit(ORDERS_CANCELLED.labels(cancellation.reason).inc)


async def _finish(
    uow: UnitOfWork,
    order: Order,
    cancellation: Cancellation,
    *,
    now: datetime,
    token_secret: str | None,
    orders: Orders,
    cancellations: Cancellations,
) -> tuple[CancellationResult, bool]:
    """Cancel every group not kept, release its stock and places, refund all but what is kept."""
    reason = cancellation.reason
    cancelled = finish_cancellation(order, reason=reason, asked=cancellation.asked)
    for group_id in cancelled.dropped:
        # Pending dunning retries need no cancelling: they find the group cancelled and do nothing.
        for kind in (CANCEL_UNPAID, CHARGE_SCHEDULED_BALANCE, REMIND_BALANCE):
            await uow.jobs.cancel(key=f"{kind}:{group_id}", now=now)
    offer = WinBackOffer.from_json(cancellation.offer) if cancellation.offer else None
    by_the_customer = cancellation.cancelled_by != "shop" and reason in CANCELLATION_REASONS
    code = await _issue_code(cancellations, order, offer, now=now) if by_the_customer and offer else None
    feedback = (
        feedback_token(token_secret, order.id, issued_at=int(now.timestamp()))
        if by_the_customer and token_secret
        else None
    )
    outcome = "partially_cancelled" if cancelled.partial else "cancelled"
    await cancellations.complete(order.id, status=outcome, refund=cancelled.refund.amount, now=now)
    announce_cancellation(
        order,
        cancelled,
        reason=reason,
        note=cancellation.note,
        cancelled_by=cancellation.cancelled_by,
        code=code,
        offer=offer if by_the_customer else None,
        feedback=feedback,
    )
    await store(uow, order, orders)
    result = CancellationResult(
        order_id=order.id, status=outcome, reason=reason, refund=cancelled.refund.amount
    )
    return result, True


async def refund_after_cancel(
    uow: UnitOfWork,
    *,
    order_id: str,
    payment_id: str,
    amount: Money,
    what: str,
    orders: Orders | None = None,
    cancellations: Cancellations | None = None,
) -> bool:
    """A checkout payment or a balance that succeeded after the order (or its group) was cancelled: count
    it captured and give it back at once. False when the order was not cancelled (nothing done)."""
    orders = orders or SqlOrders(uow.session)
    cancellations = cancellations or SqlCancellations(uow.session)
    order = await orders.get(order_id)
    cancellation = await cancellations.get(order_id)
    if cancellation is None or cancellation.status not in ("cancelled", "partially_cancelled"):
        return False
    if not await cancellations.count_late_payment(
        payment_id=payment_id, order_id=order_id, what=what, amount=amount.amount
    ):
        return True  # told again: counted and refunded already
    order.captured += amount
    order.request_refund(amount, key=f"cancel:{order_id}:{what}:{payment_id}", reason=cancellation.reason)
    order.record("late_payment_refunded", payment_id=payment_id, amount=amount.amount, what=what)
    await store(uow, order, orders)
    return True


async def _issue_code(
    cancellations: Cancellations, order: Order, offer: WinBackOffer, *, now: datetime
) -> WinBackCode | None:
    """The single-use code of ``offer`` for the customer who cancelled (their account, or a guest's email), made
    once per cancelled order; None when the offer gives no code in the order's currency."""
    existing = await cancellations.win_back_code(order.id)
    if existing is not None:
        return existing
    terms = code_terms(offer, currency=order.currency) if offer.gives_a_code else None
    if terms is None:
        return None
    percent_off, amount_off, currency = terms
    return await cancellations.add_win_back_code(
        WinBackCode(
            code=f"BACK-{secrets.token_hex(5).upper()}",
            kind=offer.kind,
            expires_at=now + timedelta(days=offer.valid_days),
            percent_off=percent_off,
            amount_off=amount_off,
            currency=currency,
        ),
        order_id=order.id,
        email=order.email,
        customer_id=order.customer_id,
    )


async def give_feedback(
    uow: UnitOfWork,
    *,
    order_id: str,
    token: str,
    score: int,
    comment: str | None,
    secret: str,
    valid: timedelta,
    now: datetime,
    cancellations: Cancellations | None = None,
) -> Feedback:
    """Keep a customer's score and words about their cancellation, once: the first answer stays, and posting
    again (a retry, a second click) answers what was kept. The link's token is the only credential."""
    check_feedback_token(secret, order_id, token, now=now, valid=valid)
    cancellations = cancellations or SqlCancellations(uow.session)
    cancellation = await cancellations.get(order_id)
    if cancellation is None or cancellation.status not in ("cancelled", "partially_cancelled"):
        # A good token is only ever given with a completed cancellation; answer as for a wrong one.
        raise FeedbackTokenRefused(
            "the token does not open this order's feedback", code="invalid_token", status=401
        )
    feedback = await cancellations.keep_feedback(order_id, score=score, comment=comment, now=now)
    if feedback is None:
        raise UnknownOrder(f"no order {order_id}", field="order_id")
    return feedback
