"""Subscriptions' use cases: staff define plans; customers subscribe, pause, resume, skip, change the card and
cancel; each cycle is charged off session on schedule and, once paid, becomes an ordinary order. Every handler
works in the unit of work it is given and never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.money import Money
from shop_contracts.values import Customer
from shop_orders.core.order import Order
from shop_orders.core.pricing import OrderTax, PricedCheckout, PricedLine
from shop_orders.core.repository import Orders, SqlOrders
from shop_orders.subscriptions.domain import (
    Cycle,
    InvalidPlan,
    Plan,
    Status,
    Subscription,
    UnknownSubscription,
    cycle_line,
    cycle_order_id,
    dunning_retry_at,
    plan_problem,
    require,
)
from shop_orders.subscriptions.jobs import schedule_dunning, schedule_next_cycle
from shop_orders.subscriptions.metrics import CYCLE_CHARGES_FAILED, CYCLES_CHARGED
from shop_orders.subscriptions.repository import SqlSubscriptions, Subscriptions
from shop_runtime.database import UnitOfWork


@dataclass(frozen=True)
class SubscriptionSettings:
    retry_after: timedelta
    dunning_period: timedelta
    notice: timedelta


@dataclass(frozen=True)
class NewSubscription:
    customer_id: str
    plan_code: str
    currency: str
    payment_token: str
    shipping_address: dict[str, Any]
    shipping_method: str
    idempotency_key: str


def _repository(uow: UnitOfWork, subscriptions: Subscriptions | None) -> Subscriptions:
    return subscriptions or SqlSubscriptions(uow.session)


def _customer(subscription: Subscription) -> Customer:
    return Customer(email=subscription.email, locale=subscription.locale)


async def create_plan(
    uow: UnitOfWork,
    *,
    plan: Plan,
    now: datetime,
    subscriptions: Subscriptions | None = None,
    orders: Orders | None = None,
) -> Plan:
    """Staff define a plan of a SKU orders knows from catalog; the same plan again changes nothing, another
    plan under its code is refused."""
    problem = plan_problem(
        code=plan.code,
        prices=plan.prices,
        quantity=plan.quantity,
        trial_days=plan.trial_days,
        first_cycle_percent_off=plan.first_cycle_percent_off,
    )
    if problem is not None:
        field, why = problem
        raise InvalidPlan(why, field=field)
    if plan.sku not in await (orders or SqlOrders(uow.session)).variants([plan.sku]):
        raise InvalidPlan(f"no product variant has SKU {plan.sku}", field="sku")
    await _repository(uow, subscriptions).add_plan(plan, now=now)
    return plan


async def subscribe(
    uow: UnitOfWork,
    *,
    new: NewSubscription,
    now: datetime,
    settings: SubscriptionSettings,
    subscriptions: Subscriptions | None = None,
) -> tuple[Subscription, bool]:
    """A signed-in customer subscribes with a card payments verified: the account joins the plan's segment and
    the first cycle is scheduled (at once, or when the trial ends). The same Idempotency-Key answers the same
    subscription (``False``: not created now)."""
    repository = _repository(uow, subscriptions)
    existing = await repository.with_idempotency_key(f"{new.customer_id}:{new.idempotency_key}")
    if existing is not None:
        return existing, False
    plan = await repository.plan(new.plan_code)
    plan.price(new.currency)  # refuses a currency the plan is not sold in
    email, locale = await repository.customer(new.customer_id)
    first_charge_at = plan.first_charge_at(now)
    subscription = Subscription(
        id=str(uuid.uuid4()),
        plan_code=plan.code,
        customer_id=new.customer_id,
        email=email,
        locale=locale,
        currency=new.currency,
        status=Status.ACTIVE,
        payment_token=new.payment_token,
        shipping_address=new.shipping_address,
        shipping_method=new.shipping_method,
        idempotency_key=f"{new.customer_id}:{new.idempotency_key}",
        started_at=now,
        first_charge_at=first_charge_at,
        cycle=1,
        next_charge_at=first_charge_at,
        updated_at=now,
    )
    await repository.add(subscription)
    await repository.join_segment(new.customer_id, plan.segment, now=now)
    await schedule_next_cycle(uow, subscription, notice=settings.notice, now=now)
    return subscription, True


async def _owned(repository: Subscriptions, subscription_id: str, customer_id: str | None) -> Subscription:
    """The subscription, locked; for a customer (``customer_id``) only their own (another's is unknown)."""
    subscription = await repository.get(subscription_id)
    if customer_id is not None and subscription.customer_id != customer_id:
        raise UnknownSubscription(f"no subscription {subscription_id}", field="subscription_id")
    return subscription


async def pause(
    uow: UnitOfWork,
    *,
    subscription_id: str,
    customer_id: str | None,
    now: datetime,
    subscriptions: Subscriptions | None = None,
) -> Subscription:
    """No cycle is charged while paused; the customer is told."""
    repository = _repository(uow, subscriptions)
    subscription = await _owned(repository, subscription_id, customer_id)
    plan = await repository.plan(subscription.plan_code)
    subscription.pause(now)
    await repository.save(subscription)
    uow.publish(
        contracts.SubscriptionPaused(
            subscription_id=subscription.id,
            customer=_customer(subscription),
            plan_name=plan.name,
            paused_by="staff" if customer_id is None else "customer",
            paused_at=now,
        ),
        subject=subscription.id,
    )
    return subscription


async def resume(
    uow: UnitOfWork,
    *,
    subscription_id: str,
    customer_id: str | None,
    now: datetime,
    settings: SubscriptionSettings,
    subscriptions: Subscriptions | None = None,
) -> Subscription:
    """Charging starts again at the first scheduled date from now (cycles due while paused are not charged)."""
    repository = _repository(uow, subscriptions)
    subscription = await _owned(repository, subscription_id, customer_id)
    subscription.resume(await repository.plan(subscription.plan_code), now)
    await repository.save(subscription)
    await schedule_next_cycle(uow, subscription, notice=settings.notice, now=now)
    return subscription


async def skip_next(
    uow: UnitOfWork,
    *,
    subscription_id: str,
    customer_id: str | None,
    now: datetime,
    settings: SubscriptionSettings,
    subscriptions: Subscriptions | None = None,
) -> Subscription:
    """The next cycle is not charged and ships nothing; the one after it is scheduled."""
    repository = _repository(uow, subscriptions)
    subscription = await _owned(repository, subscription_id, customer_id)
    plan = await repository.plan(subscription.plan_code)
    due_at = subscription.next_charge_at
    skipped = subscription.skip(plan, now)
    await repository.save_cycle(
        Cycle(
            subscription_id=subscription.id,
            cycle=skipped,
            order_id=cycle_order_id(subscription.id, skipped),
            amount=plan.cycle_amount(subscription.currency, skipped),
            currency=subscription.currency,
            due_at=due_at,
            skipped_at=now,
        )
    )
    await repository.save(subscription)
    await schedule_next_cycle(uow, subscription, notice=settings.notice, now=now)
    return subscription


async def cancel(
    uow: UnitOfWork,
    *,
    subscription_id: str,
    customer_id: str | None,
    at_period_end: bool,
    now: datetime,
    subscriptions: Subscriptions | None = None,
) -> Subscription:
    """Cancel at once (the account leaves the plan's segment now) or at the end of the period already paid for;
    nothing paid is refunded. The customer is told when it ends."""
    repository = _repository(uow, subscriptions)
    subscription = await _owned(repository, subscription_id, customer_id)
    plan = await repository.plan(subscription.plan_code)
    ends_at = subscription.cancel(
        now=now, reason="staff" if customer_id is None else "customer", at_period_end=at_period_end
    )
    await _end(uow, repository, subscription, plan, ends_at=ends_at)
    return subscription


async def _end(
    uow: UnitOfWork, repository: Subscriptions, subscription: Subscription, plan: Plan, *, ends_at: datetime
) -> None:
    await repository.save(subscription)
    if subscription.status is Status.CANCELLED:
        await repository.leave_segment(subscription.customer_id, plan.segment)
    uow.publish(
        contracts.SubscriptionCancelled(
            subscription_id=subscription.id,
            customer=_customer(subscription),
            plan_name=plan.name,
            reason=subscription.cancel_reason or "customer",
            ends_at=ends_at,
        ),
        subject=subscription.id,
    )


async def change_card(
    uow: UnitOfWork,
    *,
    subscription_id: str,
    customer_id: str | None,
    payment_token: str,
    now: datetime,
    subscriptions: Subscriptions | None = None,
) -> Subscription:
    """Later cycles are charged to the new card (payments verified it); a cycle in dunning is charged again at
    once instead of waiting for the next retry."""
    repository = _repository(uow, subscriptions)
    subscription = await _owned(repository, subscription_id, customer_id)
    require("change_card", subscription.status, subscription.id)
    subscription.payment_token, subscription.updated_at = payment_token, now
    await repository.save(subscription)
    if subscription.status is Status.PAST_DUE:
        cycle = await repository.cycle(subscription.id, subscription.cycle)
        if cycle is not None and cycle.charged_at is None:
            await _ask_payments(uow, repository, subscription, cycle)
    return subscription


async def _ask_payments(
    uow: UnitOfWork, repository: Subscriptions, subscription: Subscription, cycle: Cycle
) -> None:
    cycle.attempts += 1
    await repository.save_cycle(cycle)
    uow.publish(
        payment_contracts.ChargeSubscriptionCycle(
            subscription_id=subscription.id,
            cycle=cycle.cycle,
            attempt=cycle.attempts,
            order_id=cycle.order_id,
            amount=Money(cycle.amount, cycle.currency),
            payment_token=subscription.payment_token,
        ),
        subject=subscription.id,
        correlation_id=cycle.order_id,
    )


async def charge_due_cycle(
    uow: UnitOfWork,
    *,
    subscription_id: str,
    cycle: int,
    now: datetime,
    subscriptions: Subscriptions | None = None,
) -> None:
    """A cycle fell due: ask payments to charge it, unless the subscription no longer waits for it. A
    subscription cancelled at the period's end ends here instead."""
    repository = _repository(uow, subscriptions)
    subscription = await repository.get(subscription_id)
    if subscription.cycle != cycle or subscription.status is not Status.ACTIVE:
        return
    plan = await repository.plan(subscription.plan_code)
    if subscription.cancel_at_period_end:
        subscription.status, subscription.cancelled_at, subscription.updated_at = Status.CANCELLED, now, now
        await repository.save(subscription)
        await repository.leave_segment(subscription.customer_id, plan.segment)
        return
    if not subscription.due(cycle, now) or await repository.cycle(subscription.id, cycle) is not None:
        return
    await _ask_payments(
        uow,
        repository,
        subscription,
        Cycle(
            subscription_id=subscription.id,
            cycle=cycle,
            order_id=cycle_order_id(subscription.id, cycle),
            amount=plan.cycle_amount(subscription.currency, cycle),
            currency=subscription.currency,
            due_at=subscription.next_charge_at,
        ),
    )


async def remind_of_charge(
    uow: UnitOfWork,
    *,
    subscription_id: str,
    cycle: int,
    charge_at: datetime,
    subscriptions: Subscriptions | None = None,
) -> None:
    """Tell the customer of a charge to come, if it is still coming then."""
    repository = _repository(uow, subscriptions)
    subscription = await repository.get(subscription_id)
    if (
        subscription.status is not Status.ACTIVE
        or subscription.cancel_at_period_end
        or subscription.cycle != cycle
        or subscription.next_charge_at != charge_at
    ):
        return
    plan = await repository.plan(subscription.plan_code)
    uow.publish(
        contracts.SubscriptionChargeUpcoming(
            subscription_id=subscription.id,
            customer=_customer(subscription),
            plan_name=plan.name,
            cycle=cycle,
            amount=Money(plan.cycle_amount(subscription.currency, cycle), subscription.currency),
            charge_at=charge_at,
        ),
        subject=subscription.id,
    )


async def record_charged(
    uow: UnitOfWork,
    *,
    subscription_id: str,
    cycle: int,
    payment_id: str,
    now: datetime,
    settings: SubscriptionSettings,
    subscriptions: Subscriptions | None = None,
    orders: Orders | None = None,
) -> None:
    """Payments charged a cycle: record it once, place the cycle's order (paid; it reserves stock and ships as
    any order), schedule the next cycle and tell the customer."""
    repository = _repository(uow, subscriptions)
    subscription = await repository.get(subscription_id)
    charged = await repository.cycle(subscription_id, cycle)
    if charged is None or charged.charged_at is not None:
        return
    charged.charged_at, charged.payment_id = now, payment_id
    await repository.save_cycle(charged)
    plan = await repository.plan(subscription.plan_code)
    await _place_cycle_order(uow, subscription, plan, charged, now=now, orders=orders)
    # A subscription cancelled at once while its charge was on its way still gets the order it paid for.
    if subscription.status is not Status.CANCELLED and subscription.charged(plan, cycle, now):
        await repository.save(subscription)
        await schedule_next_cycle(uow, subscription, notice=settings.notice, now=now)
    uow.publish(
        contracts.SubscriptionCycleCharged(
            subscription_id=subscription.id,
            customer=_customer(subscription),
            plan_name=plan.name,
            cycle=cycle,
            order_id=charged.order_id,
            amount=Money(charged.amount, charged.currency),
            next_charge_at=None
            if subscription.status is Status.CANCELLED or subscription.cancel_at_period_end
            else subscription.next_charge_at,
        ),
        subject=subscription.id,
    )
    uow.after_commit(CYCLES_CHARGED.labels(charged.currency).inc)


async def _place_cycle_order(
    uow: UnitOfWork,
    subscription: Subscription,
    plan: Plan,
    cycle: Cycle,
    *,
    now: datetime,
    orders: Orders | None,
) -> None:
    orders = orders or SqlOrders(uow.session)
    variant = (await orders.variants([plan.sku])).get(plan.sku)
    unit_price, discount = cycle_line(cycle.amount, plan.quantity)
    priced = PricedCheckout(
        currency=cycle.currency,
        lines=[
            PricedLine(
                sku=plan.sku,
                title=variant.title if variant is not None else plan.name,
                quantity=plan.quantity,
                unit_price=unit_price,
            )
        ],
        shipping=0,  # the plan's price includes delivery
    )
    order = Order.place(
        cycle.order_id,
        priced=priced,
        customer=_customer(subscription),
        shipping_address=subscription.shipping_address,
        shipping_method=subscription.shipping_method,
        payment_token=subscription.payment_token,
        idempotency_key=f"subscription:{subscription.id}:{cycle.cycle}",
        request_fingerprint=f"subscription:{subscription.id}:{cycle.cycle}",
        customer_id=subscription.customer_id,
        discount=Money(discount, cycle.currency),
        discount_code=None,
        tax=OrderTax(rate=0, added_on_top=False, amount=Money(0, cycle.currency)),
        only_at_one_of=None,
        now=now,
        customer_segments=(plan.segment,),
        subscription_id=subscription.id,
    )
    await orders.add(order)
    for message in order.take_messages():
        uow.publish(message, subject=order.id, correlation_id=order.id)


async def record_failed(
    uow: UnitOfWork,
    *,
    subscription_id: str,
    cycle: int,
    attempt: int,
    decline_code: str,
    requires_action: bool,
    now: datetime,
    settings: SubscriptionSettings,
    subscriptions: Subscriptions | None = None,
) -> None:
    """A cycle's charge was declined: the subscription is past due, the charge is tried again after the retry
    wait, and the subscription is cancelled when the dunning period ends unpaid. The customer is told why and
    where to change the card. A failure of an attempt already superseded (a new card charged since) is old
    news."""
    repository = _repository(uow, subscriptions)
    subscription = await repository.get(subscription_id)
    failed = await repository.cycle(subscription_id, cycle)
    if failed is None or failed.charged_at is not None or failed.attempts != attempt:
        return
    if failed.first_failed_at is None:
        failed.first_failed_at = now
    failed.decline_code = decline_code
    await repository.save_cycle(failed)
    if subscription.status is Status.ACTIVE and subscription.cycle == cycle:
        subscription.status, subscription.updated_at = Status.PAST_DUE, now
        await repository.save(subscription)
    if subscription.status is not Status.PAST_DUE:
        return
    give_up_at = failed.first_failed_at + settings.dunning_period
    retry_at = dunning_retry_at(failed_at=now, retry_after=settings.retry_after, give_up_at=give_up_at)
    await schedule_dunning(
        uow,
        subscription_id=subscription_id,
        cycle=cycle,
        next_attempt=attempt + 1,
        retry_at=retry_at,
        give_up_at=give_up_at,
    )
    plan = await repository.plan(subscription.plan_code)
    uow.publish(
        contracts.SubscriptionCycleFailed(
            subscription_id=subscription.id,
            customer=_customer(subscription),
            plan_name=plan.name,
            cycle=cycle,
            attempt=attempt,
            amount=Money(failed.amount, failed.currency),
            reason=decline_code,
            requires_action=requires_action,
            retry_at=retry_at,
            give_up_at=give_up_at,
        ),
        subject=subscription.id,
    )
    uow.after_commit(CYCLE_CHARGES_FAILED.labels(failed.currency, decline_code).inc)


async def retry_cycle(
    uow: UnitOfWork,
    *,
    subscription_id: str,
    cycle: int,
    attempt: int,
    subscriptions: Subscriptions | None = None,
) -> None:
    """Dunning: charge a failed cycle again, unless it was charged or tried again since (a new card)."""
    repository = _repository(uow, subscriptions)
    subscription = await repository.get(subscription_id)
    if subscription.status is not Status.PAST_DUE or subscription.cycle != cycle:
        return
    failed = await repository.cycle(subscription_id, cycle)
    if failed is None or failed.charged_at is not None or failed.attempts >= attempt:
        return
    await _ask_payments(uow, repository, subscription, failed)


async def end_dunning(
    uow: UnitOfWork,
    *,
    subscription_id: str,
    cycle: int,
    now: datetime,
    subscriptions: Subscriptions | None = None,
) -> None:
    """The dunning period ended: a subscription whose cycle is still unpaid is cancelled."""
    repository = _repository(uow, subscriptions)
    subscription = await repository.get(subscription_id)
    if subscription.status is not Status.PAST_DUE or subscription.cycle != cycle:
        return
    unpaid = await repository.cycle(subscription_id, cycle)
    if unpaid is None or unpaid.charged_at is not None:
        return
    ends_at = subscription.cancel(now=now, reason="unpaid", at_period_end=False)
    await _end(uow, repository, subscription, await repository.plan(subscription.plan_code), ends_at=ends_at)
